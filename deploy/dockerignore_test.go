package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ignoreRule is one line of .dockerignore.
type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

// readDockerignore reads the patterns of .dockerignore: paths relative to
// the context root, with *, ? and ** (any number of directories), and !
// for exceptions; the last matching line wins, and a pattern that matches
// a directory matches everything under it.
func readDockerignore(t *testing.T) []ignoreRule {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []ignoreRule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if r.negate = strings.HasPrefix(line, "!"); r.negate {
			line = line[1:]
		}
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var b strings.Builder
		b.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch {
			case strings.HasPrefix(line[i:], "**/"):
				b.WriteString("(?:.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				b.WriteString(".*")
				i++
			case line[i] == '*':
				b.WriteString("[^/]*")
			case line[i] == '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(line[i : i+1]))
			}
		}
		b.WriteString("(?:/.*)?$")
		r.re = regexp.MustCompile(b.String())
		rules = append(rules, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rules
}

func ignored(rules []ignoreRule, rel string) bool {
	out := false
	for _, r := range rules {
		if r.re.MatchString(rel) {
			out = !r.negate
		}
	}
	return out
}

// TestDockerignore checks that the build context keeps every file the
// images' builds read (go.mod, go.sum and the Go files of every package
// the Dockerfiles build, with their embedded files) and leaves out the
// repository's history and what the builds do not need.
func TestDockerignore(t *testing.T) {
	rules := readDockerignore(t)
	for _, p := range []string{".git/HEAD", "README.md", "admin/e2e_test.go", "localserver/testdata/x.json", "deploy/grafana/dashboards/tripswitch.json"} {
		if !ignored(rules, p) {
			t.Errorf("%s is sent to the docker build, which does not read it", p)
		}
	}

	var mains []string
	c := loadCompose(t)
	for name := range c.mapping("services") {
		if c.has("services", name, "build") {
			for _, pkg := range imageFiles(t, c.str("services", name, "build", "dockerfile")) {
				mains = append(mains, pkg)
			}
		}
	}
	if len(mains) == 0 {
		t.Fatal("no Dockerfile builds anything")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the builds' files")
	}
	cmd := exec.Command(goTool, append([]string{"list", "-deps", "-f",
		`{{if not .Standard}}{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}`},
		mains...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(abs, f)
		if err != nil {
			t.Fatal(err)
		}
		needed = append(needed, filepath.ToSlash(rel))
	}
	if len(needed) < 10 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, p := range needed {
		if ignored(rules, p) {
			t.Errorf(".dockerignore leaves out %s, which the image builds read", p)
		}
	}
}
