// Command render prints the chart's manifests like `helm template`, through Helm's Go SDK, so no
// helm binary is needed: go run ./cmd/render [-f values.yaml] [-name distribution] [-namespace default].
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/marketing-platform/distribution/deploy"
)

func main() {
	values := flag.String("f", "", "values file over the chart's values.yaml")
	name := flag.String("name", "distribution", "release name")
	ns := flag.String("namespace", "default", "release namespace")
	chart := flag.String("chart", "chart", "chart directory")
	flag.Parse()
	vals := map[string]any{}
	if *values != "" {
		v, err := deploy.LoadValues(*values)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		vals = v
	}
	ms, err := deploy.Render(*chart, deploy.Release{Name: *name, Namespace: *ns}, vals)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, m := range ms {
		fmt.Printf("---\n# Source: %s\n%s\n", m.Template, m.YAML)
	}
}
