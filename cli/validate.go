package cli

import (
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/splitschema/splitschema/internal/manifest"
)

func validateCommands() []*ucli.Command {
	return []*ucli.Command{
		{
			Name:   "validate",
			Usage:  "check the project's files and print the services in dependency order",
			Action: action(runValidate),
		},
		{
			Name:  "graph",
			Usage: "print the service graph, each link an edge",
			Flags: []ucli.Flag{
				&ucli.StringFlag{Name: "format", Value: "mermaid", Usage: "`FORMAT`: mermaid or dot"},
			},
			Action: action(runGraph),
		},
	}
}

type validateResult struct {
	Services []validatedService `json:"services"`
	Order    []string           `json:"order"`
}

type validatedService struct {
	Name   string   `json:"name"`
	Schema string   `json:"schema"`
	Links  []string `json:"links"`
}

func (r validateResult) Human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d services, in dependency order:\n", len(r.Order))
	for i, name := range r.Order {
		for _, s := range r.Services {
			if s.Name != name {
				continue
			}
			fmt.Fprintf(&b, "%3d. %s (schema %s)", i+1, s.Name, s.Schema)
			if len(s.Links) > 0 {
				fmt.Fprintf(&b, " -> %s", strings.Join(s.Links, ", "))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func runValidate(e *env) error {
	p, err := e.project()
	if err != nil {
		return err
	}
	r := validateResult{Order: p.Order}
	for _, svc := range p.Services {
		links := []string{}
		for _, l := range svc.Links {
			links = append(links, l.String())
		}
		r.Services = append(r.Services, validatedService{Name: svc.Name, Schema: svc.Schema, Links: links})
	}
	return e.emit(r)
}

type graphResult struct {
	Format string `json:"format"`
	Graph  string `json:"graph"`
}

func (r graphResult) Human() string { return r.Graph }

func runGraph(e *env) error {
	format := e.c.String("format")
	var render func(*manifest.Project) string
	switch format {
	case "mermaid":
		render = (*manifest.Project).Mermaid
	case "dot":
		render = (*manifest.Project).Dot
	default:
		return usageErr(e.c, fmt.Errorf("--format %q: want mermaid or dot", format))
	}
	p, err := e.project()
	if err != nil {
		return err
	}
	return e.emit(graphResult{Format: format, Graph: render(p)})
}
