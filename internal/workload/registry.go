package workload

import (
	"math/rand/v2"
	"sync"
)

// registry is what the services learn of each other through their APIs
// and events: which customers and products exist, and which orders wait
// for a payment or a shipment. Services never read each other's tables.
type registry struct {
	mu        sync.Mutex
	customers []int64
	products  []int64
	placed    []order // waiting for payments
	paid      []order // waiting for shipping
	// events from payments and shipping that the orders service applies.
	paidEvents    []order
	shippedEvents []order
}

type order struct {
	id       int64
	customer int64
	total    int64
}

func pick(r *rand.Rand, ids []int64) (int64, bool) {
	if len(ids) == 0 {
		return 0, false
	}
	return ids[r.IntN(len(ids))], true
}

func (g *registry) addCustomer(id int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.customers = append(g.customers, id)
}

func (g *registry) removeCustomer(id int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, c := range g.customers {
		if c == id {
			g.customers[i] = g.customers[len(g.customers)-1]
			g.customers = g.customers[:len(g.customers)-1]
			return
		}
	}
}

func (g *registry) customer(r *rand.Rand) (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return pick(r, g.customers)
}

func (g *registry) addProduct(id int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.products = append(g.products, id)
}

func (g *registry) product(r *rand.Rand) (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return pick(r, g.products)
}

func (g *registry) push(q *[]order, o order) {
	g.mu.Lock()
	defer g.mu.Unlock()
	*q = append(*q, o)
}

// pop removes and returns the oldest order of a queue.
func (g *registry) pop(q *[]order) (order, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(*q) == 0 {
		return order{}, false
	}
	o := (*q)[0]
	*q = (*q)[1:]
	return o, true
}
