package manifest

import (
	"slices"
	"strings"
)

// topoOrder orders services so that each comes after the services it links
// to, choosing the smallest name among those ready (Kahn's algorithm). When
// the links hold a cycle it returns one cycle, by service name, instead.
func topoOrder(services []*Service) (order, cycle []string) {
	pending := map[string]int{} // service -> number of unordered dependencies
	dependants := map[string][]string{}
	for _, svc := range services {
		deps := svc.DependsOn()
		pending[svc.Name] = len(deps)
		for _, d := range deps {
			dependants[d] = append(dependants[d], svc.Name)
		}
	}
	var ready []string
	for _, svc := range services {
		if pending[svc.Name] == 0 {
			ready = append(ready, svc.Name)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		next := ready[0]
		ready = ready[1:]
		order = append(order, next)
		for _, d := range dependants[next] {
			pending[d]--
			if pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if len(order) == len(services) {
		return order, nil
	}
	return nil, findCycle(services, pending)
}

// findCycle walks dependencies among the services left unordered; every one
// of them has an unordered dependency, so the walk must revisit a service.
func findCycle(services []*Service, pending map[string]int) []string {
	byName := map[string]*Service{}
	var start string
	for _, svc := range services {
		byName[svc.Name] = svc
		if pending[svc.Name] > 0 && (start == "" || svc.Name < start) {
			start = svc.Name
		}
	}
	var path []string
	at := map[string]int{}
	for cur := start; ; {
		if i, seen := at[cur]; seen {
			return rotateSmallestFirst(path[i:])
		}
		at[cur] = len(path)
		path = append(path, cur)
		deps := byName[cur].DependsOn()
		slices.Sort(deps)
		for _, d := range deps {
			if pending[d] > 0 {
				cur = d
				break
			}
		}
	}
}

func rotateSmallestFirst(cycle []string) []string {
	i := slices.Index(cycle, slices.Min(cycle))
	return append(slices.Clone(cycle[i:]), cycle[:i]...)
}

// Edge is one link drawn as a graph edge from the referencing service.
type Edge struct {
	From string
	To   string
	Link Link
}

// Edges lists every link of the project, in service order.
func (p *Project) Edges() []Edge {
	var out []Edge
	for _, svc := range p.Services {
		for _, l := range svc.Links {
			out = append(out, Edge{From: svc.Name, To: l.Service, Link: l})
		}
	}
	return out
}

// Mermaid renders the service graph as a Mermaid flowchart.
func (p *Project) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, svc := range p.Services {
		b.WriteString("  " + svc.Name + "[" + svc.Name + "]\n")
	}
	for _, e := range p.Edges() {
		b.WriteString("  " + e.From + " -->|\"" + e.Link.Table + "(" + strings.Join(e.Link.Columns, ", ") + ")\"| " + e.To + "\n")
	}
	return b.String()
}

// Dot renders the service graph in Graphviz dot.
func (p *Project) Dot() string {
	var b strings.Builder
	b.WriteString("digraph services {\n  rankdir=LR;\n")
	for _, svc := range p.Services {
		b.WriteString("  \"" + svc.Name + "\";\n")
	}
	for _, e := range p.Edges() {
		b.WriteString("  \"" + e.From + "\" -> \"" + e.To + "\" [label=\"" + e.Link.Table + "(" + strings.Join(e.Link.Columns, ", ") + ")\"];\n")
	}
	b.WriteString("}\n")
	return b.String()
}
