package manifest

import (
	"fmt"
	"slices"
	"strings"
)

// topoOrder orders services so that each comes after the services it
// depends on (links, reads, uses), choosing the smallest name among those
// ready (Kahn's algorithm). When the dependencies hold a cycle it returns
// the shortest one, by service name, instead.
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
	return nil, shortestCycle(services)
}

// shortestCycle returns the shortest dependency cycle, smallest name first;
// among cycles of one length, the first in name order.
func shortestCycle(services []*Service) []string {
	deps := map[string][]string{}
	for _, svc := range services {
		d := svc.DependsOn()
		slices.Sort(d)
		deps[svc.Name] = d
	}
	var best []string
	for _, svc := range services {
		// A path back to svc.Name from each of its dependencies, by BFS.
		if p := path(deps, svc.Name, svc.Name); p != nil && (best == nil || len(p) < len(best)) {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	return rotateSmallestFirst(best[:len(best)-1])
}

// path returns the shortest walk from -> ... -> to along deps, at least one
// step long, or nil.
func path(deps map[string][]string, from, to string) []string {
	prev := map[string]string{}
	queue := []string{from}
	visited := map[string]bool{}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, d := range deps[cur] {
			if d == to {
				out := []string{to}
				for at := cur; at != from; at = prev[at] {
					out = append(out, at)
				}
				out = append(out, from)
				slices.Reverse(out)
				return out
			}
			if !visited[d] {
				visited[d] = true
				prev[d] = cur
				queue = append(queue, d)
			}
		}
	}
	return nil
}

func rotateSmallestFirst(cycle []string) []string {
	i := slices.Index(cycle, slices.Min(cycle))
	return append(slices.Clone(cycle[i:]), cycle[:i]...)
}

// describeCycle says which declarations form the cycle and how to break it.
func (p *Project) describeCycle(cycle []string) string {
	var steps []string
	var soft string
	for i, from := range cycle {
		to := cycle[(i+1)%len(cycle)]
		svc := p.Service(from)
		what := p.relation(svc, to)
		steps = append(steps, fmt.Sprintf("%s %s %s", from, what, to))
		if soft == "" && strings.HasPrefix(what, "links to") {
			soft = fmt.Sprintf("; declare the link of %s to %s as a soft link instead (in %s, soft_links: [\"table(column) -> %s\"]), which creates no foreign key but which verify checks",
				from, to, svc.File, strings.TrimPrefix(what, "links to "))
		}
	}
	if soft == "" {
		soft = "; drop one of these declarations"
	}
	return fmt.Sprintf("the services form a cycle: %s -> %s (%s); enforced links, reads and uses must form a graph without cycles%s",
		strings.Join(cycle, " -> "), cycle[0], strings.Join(steps, ", "), soft)
}

// relation says how svc depends on the service to, e.g. "links to x.t(id)".
func (p *Project) relation(svc *Service, to string) string {
	for _, l := range svc.Links {
		if l.Service == to {
			return "links to " + l.String()
		}
	}
	for _, r := range svc.Reads {
		if r.Service == to {
			return "reads " + r.Link.String()
		}
	}
	return "uses"
}

// WouldCycle reports whether a new dependency of service from on service to
// would close a cycle; it returns that cycle (from first), or nil.
func (p *Project) WouldCycle(from, to string) []string {
	deps := map[string][]string{}
	for _, svc := range p.Services {
		d := svc.DependsOn()
		slices.Sort(d)
		deps[svc.Name] = d
	}
	if from == to {
		return []string{from}
	}
	back := path(deps, to, from)
	if back == nil {
		return nil
	}
	return append([]string{from}, back[:len(back)-1]...)
}

// EdgeKind is the kind of relation an Edge draws.
type EdgeKind string

const (
	// EdgeLink is an enforced link: a foreign key.
	EdgeLink EdgeKind = "link"
	// EdgeSoftLink is a link no foreign key enforces, checked by verify.
	EdgeSoftLink EdgeKind = "soft link"
	// EdgeRead is a declared read: SELECT on columns.
	EdgeRead EdgeKind = "read"
	// EdgeUses is the use of a shared service's types and functions.
	EdgeUses EdgeKind = "uses"
)

// Edge is one relation drawn as a graph edge from the declaring service.
type Edge struct {
	From string
	To   string
	Kind EdgeKind
	// Link is the target columns (empty for EdgeUses).
	Link Link
}

// Edges lists every relation of the project, in service order: links, soft
// links, reads, uses.
func (p *Project) Edges() []Edge {
	var out []Edge
	for _, svc := range p.Services {
		for _, l := range svc.Links {
			out = append(out, Edge{From: svc.Name, To: l.Service, Kind: EdgeLink, Link: l})
		}
		for _, s := range svc.SoftLinks {
			out = append(out, Edge{From: svc.Name, To: s.To.Service, Kind: EdgeSoftLink, Link: s.To})
		}
		for _, r := range svc.Reads {
			out = append(out, Edge{From: svc.Name, To: r.Service, Kind: EdgeRead, Link: r.Link})
		}
		for _, u := range svc.Uses {
			out = append(out, Edge{From: svc.Name, To: u, Kind: EdgeUses})
		}
	}
	return out
}

func (e Edge) label() string {
	cols := e.Link.Table + "(" + strings.Join(e.Link.Columns, ", ") + ")"
	if e.Link.Ref != "" {
		cols = e.Link.Ref + "." + cols
	}
	switch e.Kind {
	case EdgeSoftLink:
		return "soft: " + cols
	case EdgeRead:
		return "reads " + cols
	case EdgeUses:
		return "uses"
	}
	return cols
}

// Mermaid renders the service graph as a Mermaid flowchart: links are solid
// arrows, soft links dashed arrows, reads and uses dotted lines ending in a
// circle, each labelled.
func (p *Project) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, svc := range p.Services {
		if svc.IsShared() {
			b.WriteString("  " + svc.Name + "[(" + svc.Name + ")]\n")
			continue
		}
		b.WriteString("  " + svc.Name + "[" + svc.Name + "]\n")
	}
	for _, e := range p.Edges() {
		arrow := "-->"
		switch e.Kind {
		case EdgeSoftLink:
			arrow = "-.->"
		case EdgeRead, EdgeUses:
			arrow = "-.-o"
		}
		b.WriteString("  " + e.From + " " + arrow + "|\"" + e.label() + "\"| " + e.To + "\n")
	}
	return b.String()
}

// Dot renders the service graph in Graphviz dot: soft links dashed, reads
// and uses dotted with a hollow head.
func (p *Project) Dot() string {
	var b strings.Builder
	b.WriteString("digraph services {\n  rankdir=LR;\n")
	for _, svc := range p.Services {
		if svc.IsShared() {
			b.WriteString("  \"" + svc.Name + "\" [shape=cylinder];\n")
			continue
		}
		b.WriteString("  \"" + svc.Name + "\";\n")
	}
	for _, e := range p.Edges() {
		style := ""
		switch e.Kind {
		case EdgeSoftLink:
			style = ", style=dashed"
		case EdgeRead, EdgeUses:
			style = ", style=dotted, arrowhead=odot"
		}
		b.WriteString("  \"" + e.From + "\" -> \"" + e.To + "\" [label=\"" + e.label() + "\"" + style + "];\n")
	}
	b.WriteString("}\n")
	return b.String()
}
