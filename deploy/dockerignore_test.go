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
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	// The Collector distribution is built from the nested module collector/;
	// the other images from the root module.
	var rootMains, nestedMains []string
	for _, m := range mains {
		if strings.HasPrefix(strings.TrimPrefix(m, "./"), nestedModule+"/") {
			nestedMains = append(nestedMains, "./"+strings.TrimPrefix(strings.TrimPrefix(m, "./"), nestedModule+"/"))
		} else {
			rootMains = append(rootMains, m)
		}
	}
	needed := []string{"go.mod", "go.sum"}
	if len(rootMains) > 0 {
		needed = append(needed, buildFiles(t, goTool, abs, abs, rootMains, nil)...)
	}
	if len(nestedMains) > 0 {
		needed = append(needed, nestedModule+"/go.mod", nestedModule+"/go.sum")
		// The nested module's dependency graph is large: list it only from
		// the local module cache, never downloading it for this test.
		dir := filepath.Join(abs, nestedModule)
		if files, ok := tryBuildFiles(goTool, abs, dir, nestedMains, []string{"GOPROXY=off", "GOFLAGS=-mod=mod"}); ok {
			needed = append(needed, files...)
		} else {
			t.Logf("the %s module's dependencies are not in the module cache: checking its own files by name only", nestedModule)
			needed = append(needed, sourceFiles(t, abs, nestedModule)...)
		}
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

// nestedModule is the folder of the repository's nested Go module.
const nestedModule = "collector"

// listTemplate prints the Go and embedded files of the packages of the
// main module, or of a module replaced by a local folder (the root module,
// seen from the nested one).
const listTemplate = `{{if not .Standard}}{{if .Module}}{{if or .Module.Main .Module.Replace}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}{{end}}`

// buildFiles lists, relative to root, the files that building mains in dir
// reads.
func buildFiles(t *testing.T, goTool, root, dir string, mains, env []string) []string {
	t.Helper()
	files, ok := tryBuildFiles(goTool, root, dir, mains, env)
	if !ok {
		t.Fatalf("go list -deps %v in %s failed", mains, dir)
	}
	return files
}

func tryBuildFiles(goTool, root, dir string, mains, env []string) ([]string, bool) {
	cmd := exec.Command(goTool, append([]string{"list", "-deps", "-f", listTemplate}, mains...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		return nil, false
	}
	var files []string
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		files = append(files, filepath.ToSlash(rel))
	}
	return files, true
}

// sourceFiles lists the non-test Go files under dir (relative to root).
func sourceFiles(t *testing.T, root, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
