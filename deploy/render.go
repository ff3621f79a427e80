// Package deploy holds the deployable package of the Distribution Service (the Dockerfile, the
// Helm chart, the Grafana dashboard and the Prometheus alert rules) and, in this Go module of its
// own, the code that renders the chart with Helm's Go SDK and the tests that check all of it, so
// the service's go.mod never carries Helm or the Kubernetes API types.
package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

// Release names the release a render is for, as `helm template NAME -n NAMESPACE`.
type Release struct {
	Name, Namespace string
	Upgrade         bool
}

// Manifest is one rendered object: the template it came from and its YAML.
type Manifest struct {
	Template string
	YAML     string
}

// Render renders the chart in chartDir with values over its values.yaml, as `helm template`
// does (strict: a reference to a missing value is an error), and returns every non-empty
// document, in template order.
func Render(chartDir string, rel Release, values map[string]any) ([]Manifest, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	opts := common.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: !rel.Upgrade, IsUpgrade: rel.Upgrade}
	if rel.Upgrade {
		opts.Revision = 2
	}
	vals, err := util.ToRenderValues(ch, values, opts, common.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []Manifest
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasPrefix(filepath.Base(name), "_") {
			continue
		}
		for _, doc := range splitDocs(files[name]) {
			out = append(out, Manifest{Template: name, YAML: doc})
		}
	}
	return out, nil
}

// splitDocs splits a rendered file at its "---" lines, dropping documents that are empty or
// only comments.
func splitDocs(s string) []string {
	var docs []string
	for _, d := range strings.Split("\n"+s, "\n---") {
		keep := false
		for _, line := range strings.Split(d, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				keep = true
				break
			}
		}
		if keep {
			docs = append(docs, strings.TrimPrefix(strings.TrimLeft(d, "\n"), "\n"))
		}
	}
	return docs
}

// LoadValues reads a values file (YAML) into a map for Render.
func LoadValues(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
