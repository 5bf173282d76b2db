// Package docs_test checks the documentation against the code: every
// `cutover` command line in a shell block of README.md, docs/*.md and the
// examples' READMEs names a real command and only flags that command
// defines, and so does every line that runs an example program; every
// relative link points to a file, and to a heading, that exists; every
// metric name the docs mention is defined in the code; and docs/cli.md
// describes every command and every flag.
//
// The flags are read from the real binaries (`cutover COMMAND -h`,
// `PROGRAM -h`), built once in TestMain, so a renamed or removed flag fails
// here the day it happens.
package docs_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// root is the module's root directory, seen from docs/.
const root = ".."

var (
	// cli is what the built binary says about itself: command name → flag set.
	cli map[string]map[string]bool
	// examples maps each example program's name to its package path.
	examples map[string]string
	// binDir holds the built binaries: cutover and the example programs.
	binDir string
)

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "docs_test:", err)
		os.Exit(1)
	}
	os.Exit(code(m))
}

func setup() (func(*testing.M) int, error) {
	dir, err := os.MkdirTemp("", "cutover-docs-test-")
	if err != nil {
		return nil, err
	}
	examples, err = findExampleMains()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// One build for all the programs: the go command links them in parallel.
	pkgs := []string{"./cmd/cutover"}
	for _, pkg := range examples {
		pkgs = append(pkgs, pkg)
	}
	build := exec.Command("go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("building %v: %v\n%s", pkgs, err, out)
	}
	binDir = dir
	bin := filepath.Join(dir, "cutover")
	cli, err = readCLI(bin)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return func(m *testing.M) int {
		defer os.RemoveAll(dir)
		return m.Run()
	}, nil
}

var (
	commandLine = regexp.MustCompile(`^  ([a-z][a-z0-9-]*)\s{2,}\S`)
	flagLine    = regexp.MustCompile(`^  -([a-zA-Z0-9][a-zA-Z0-9-]*)`)
)

// readCLI runs `cutover help` for the commands, then `cutover CMD -h` for
// each command's flags. The exit status of -h is not relied on: the flags
// are what is printed.
func readCLI(bin string) (map[string]map[string]bool, error) {
	out, err := exec.Command(bin, "help").Output()
	if err != nil {
		return nil, fmt.Errorf("cutover help: %v", err)
	}
	cmds := map[string]map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if m := commandLine.FindStringSubmatch(sc.Text()); m != nil {
			cmds[m[1]] = map[string]bool{}
		}
	}
	if len(cmds) < 5 {
		return nil, fmt.Errorf("cutover help lists only %d commands:\n%s", len(cmds), out)
	}
	for name, flags := range cmds {
		c := exec.Command(bin, name, "-h")
		var buf strings.Builder
		c.Stdout, c.Stderr = &buf, &buf
		_ = c.Run()
		sc := bufio.NewScanner(strings.NewReader(buf.String()))
		for sc.Scan() {
			if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
				flags[m[1]] = true
			}
		}
		if len(flags) == 0 {
			return nil, fmt.Errorf("cutover %s -h lists no flags:\n%s", name, buf.String())
		}
	}
	return cmds, nil
}

// markdownFiles returns README.md, docs/*.md and examples/**/README.md,
// relative to the module root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	err = filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(d.Name(), "README.md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shellLine is one logical line of a shell block (continuations joined).
type shellLine struct {
	line int // of the line's start in the file, from 1
	text string
}

// shellBlocks returns the logical lines of the ```sh, ```bash and ```shell
// blocks of a markdown text.
func shellBlocks(md string) []shellLine {
	var out []shellLine
	inShell, inOther := false, false
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			switch {
			case inShell:
				inShell = false
			case inOther:
				inOther = false
			default:
				lang := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
				if lang == "sh" || lang == "bash" || lang == "shell" {
					inShell = true
				} else {
					inOther = true
				}
			}
			continue
		}
		if !inShell {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(l)
		out = append(out, shellLine{start, cur.String()})
		cur.Reset()
	}
	return out
}

// simpleCommands splits a shell line into simple commands (at |, ||, &&,
// ;, &, $( and the parentheses), each a list of words with quotes removed.
// A # that starts a word begins a comment. It is not a shell, but it reads
// what documentation writes.
func simpleCommands(line string) [][]string {
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				word.WriteRune(rs[j])
				j++
			}
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				word.WriteRune(rs[j])
				j++
			}
			i = j
		case r == '\\' && i+1 < len(rs):
			inWord = true
			i++
			word.WriteRune(rs[i])
		case r == '#' && !inWord:
			endCmd()
			return cmds
		case r == '$' && i+1 < len(rs) && rs[i+1] == '(':
			endCmd()
			i++
		case r == '|' || r == ';' || r == '&' || r == '(' || r == ')':
			endCmd()
		case r == ' ' || r == '\t':
			endWord()
		default:
			inWord = true
			word.WriteRune(r)
		}
	}
	endCmd()
	return cmds
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// cutoverArgs returns the arguments after the program if words run cutover
// (`cutover …`, `./bin/cutover …`, `go run ./cmd/cutover …`), and false
// otherwise.
func cutoverArgs(words []string) ([]string, bool) {
	for len(words) > 0 && (assignment.MatchString(words[0]) || words[0] == "exec" || words[0] == "sudo" || words[0] == "env") {
		words = words[1:]
	}
	if len(words) == 0 {
		return nil, false
	}
	if words[0] == "cutover" || (strings.HasSuffix(words[0], "/cutover") && !strings.Contains(words[0], ":")) {
		return words[1:], true
	}
	if len(words) >= 3 && words[0] == "go" && words[1] == "run" {
		rest := words[2:]
		for len(rest) > 0 && strings.HasPrefix(rest[0], "-") { // go run -race ./cmd/cutover
			rest = rest[1:]
		}
		if len(rest) > 0 && (rest[0] == "./cmd/cutover" || strings.HasSuffix(rest[0], "/cmd/cutover")) {
			return rest[1:], true
		}
	}
	return nil, false
}

// checkInvocation reports what is wrong with one cutover command line.
func checkInvocation(args []string) []string {
	if len(args) == 0 {
		return nil // `cutover` alone prints the help
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 1 {
			if _, ok := cli[args[1]]; !ok {
				return []string{fmt.Sprintf("help for unknown command %q", args[1])}
			}
		}
		return nil
	}
	flags, ok := cli[name]
	if !ok {
		return []string{fmt.Sprintf("unknown command %q", name)}
	}
	var problems []string
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		f := strings.TrimLeft(a, "-")
		f, _, _ = strings.Cut(f, "=")
		if f == "h" || f == "help" {
			continue
		}
		if !flags[f] {
			problems = append(problems, fmt.Sprintf("cutover %s has no flag --%s", name, f))
		}
	}
	return problems
}

func TestShellBlocksRunRealCommandsAndFlags(t *testing.T) {
	checked, checkedExamples := 0, 0
	for _, file := range markdownFiles(t) {
		for _, l := range shellBlocks(read(t, file)) {
			for _, words := range simpleCommands(l.text) {
				if args, ok := cutoverArgs(words); ok {
					checked++
					for _, p := range checkInvocation(args) {
						t.Errorf("%s:%d: %s\n\t%s", file, l.line, p, strings.TrimSpace(l.text))
					}
					continue
				}
				if pkg, args, ok := exampleArgs(examples, words); ok {
					checkedExamples++
					flags := exampleFlags(t, pkg)
					for _, a := range args {
						if !strings.HasPrefix(a, "-") || a == "-" {
							continue
						}
						f, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
						if f != "h" && f != "help" && !flags[f] {
							t.Errorf("%s:%d: %s has no flag --%s\n\t%s", file, l.line, pkg, f, strings.TrimSpace(l.text))
						}
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d cutover command lines found in the docs' shell blocks; is the extraction broken?", checked)
	}
	if checkedExamples < 3 {
		t.Errorf("only %d example program lines found in the docs' shell blocks; is the extraction broken?", checkedExamples)
	}
}

// findExampleMains maps the name of each example program (its directory's
// name, which is also the name `go build` gives its binary) to its package
// path, ./examples/….
func findExampleMains() (map[string]string, error) {
	out := map[string]string{}
	isMain := regexp.MustCompile(`(?m)^package main$`)
	err := filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "main.go" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil || !isMain.Match(b) {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		out[filepath.Base(rel)] = "./" + filepath.ToSlash(rel)
		return nil
	})
	return out, err
}

// exampleArgs recognises `go run ./examples/X …` and `bin/X …` for an
// example program X, and returns its package and arguments.
func exampleArgs(examples map[string]string, words []string) (pkg string, args []string, ok bool) {
	for len(words) > 0 && assignment.MatchString(words[0]) {
		words = words[1:]
	}
	if len(words) >= 3 && words[0] == "go" && words[1] == "run" {
		p := strings.TrimSuffix(words[2], "/")
		for _, e := range examples {
			if p == e {
				return e, words[3:], true
			}
		}
		return "", nil, false
	}
	if len(words) > 0 && strings.Contains(words[0], "/") && !strings.Contains(words[0], ":") {
		if e, found := examples[filepath.Base(words[0])]; found {
			return e, words[1:], true
		}
	}
	return "", nil, false
}

var (
	exampleFlagsMu    sync.Mutex
	exampleFlagsCache = map[string]map[string]bool{}
)

// exampleFlags reads an example program's flags from its -h.
func exampleFlags(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	exampleFlagsMu.Lock()
	defer exampleFlagsMu.Unlock()
	if f, ok := exampleFlagsCache[pkg]; ok {
		return f
	}
	var buf strings.Builder
	c := exec.Command(filepath.Join(binDir, path.Base(pkg)), "-h")
	c.Stdout, c.Stderr = &buf, &buf
	_ = c.Run()
	flags := map[string]bool{}
	for _, l := range strings.Split(buf.String(), "\n") {
		if m := flagLine.FindStringSubmatch(l); m != nil {
			flags[m[1]] = true
		}
	}
	if len(flags) == 0 {
		t.Fatalf("%s -h lists no flags:\n%s", pkg, buf.String())
	}
	exampleFlagsCache[pkg] = flags
	return flags
}

var link = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

func TestRelativeLinksExist(t *testing.T) {
	for _, file := range markdownFiles(t) {
		md := read(t, file)
		inCode := false
		for i, l := range strings.Split(md, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				inCode = !inCode
				continue
			}
			if inCode {
				continue
			}
			for _, m := range link.FindAllStringSubmatch(l, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, anchor, _ := strings.Cut(target, "#")
				rel := file
				if target != "" {
					rel = filepath.Join(filepath.Dir(file), filepath.FromSlash(target))
				}
				if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
					t.Errorf("%s:%d: link to %s: no such file", file, i+1, m[1])
					continue
				}
				if anchor != "" && strings.HasSuffix(rel, ".md") && !anchors(t, rel)[anchor] {
					t.Errorf("%s:%d: link to %s: %s has no heading with the anchor #%s", file, i+1, m[1], rel, anchor)
				}
			}
		}
	}
}

// anchors returns the anchors GitHub makes of a markdown file's headings:
// lower case, punctuation other than - and _ dropped, spaces as hyphens.
func anchors(t *testing.T, rel string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	inCode := false
	for _, l := range strings.Split(read(t, rel), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

var metricName = regexp.MustCompile(`\bcutover_[a-z][a-z0-9_]*[a-z0-9]`)

// TestMetricNamesExist checks that every cutover_… name in the docs (metric
// names, mostly) is written somewhere in the code, so that alert rules and
// dashboards built from the docs select real series.
func TestMetricNamesExist(t *testing.T) {
	var code strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sql")) && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			code.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	src := code.String()
	for _, file := range markdownFiles(t) {
		seen := map[string]bool{}
		for _, name := range metricName.FindAllString(read(t, file), -1) {
			if seen[name] {
				continue
			}
			seen[name] = true
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && strings.Contains(src, `"`+b+`"`) {
					base = b
				}
			}
			if !strings.Contains(src, base) {
				t.Errorf("%s mentions %s, which no Go or SQL file defines", file, name)
			}
		}
	}
}

// TestCLIReferenceIsComplete checks that docs/cli.md has a section for every
// command and mentions every flag of each within it.
func TestCLIReferenceIsComplete(t *testing.T) {
	md := read(t, filepath.Join("docs", "cli.md"))
	sections := map[string]string{}
	var cur string
	for _, l := range strings.Split(md, "\n") {
		if h, ok := strings.CutPrefix(l, "## "); ok {
			cur = ""
			if name, ok := strings.CutPrefix(strings.Trim(h, "`"), "cutover "); ok {
				cur, _, _ = strings.Cut(name, " ")
			}
			continue
		}
		if cur != "" {
			sections[cur] += l + "\n"
		}
	}
	for name, flags := range cli {
		sec, ok := sections[name]
		if !ok {
			t.Errorf("docs/cli.md has no section \"## `cutover %s`\"", name)
			continue
		}
		for f := range flags {
			if !strings.Contains(sec, "`--"+f+"`") && !strings.Contains(sec, "`--"+f+" ") {
				t.Errorf("docs/cli.md, section cutover %s: flag --%s is not described", name, f)
			}
		}
	}
	for name := range sections {
		if _, ok := cli[name]; !ok {
			t.Errorf("docs/cli.md describes cutover %s, which the binary does not have", name)
		}
	}
}

// TestShellParsing pins down the small shell reader the other tests rely on.
func TestShellParsing(t *testing.T) {
	lines := shellBlocks("text\n```sh\ncutover proxy --old a \\\n  --new b # comment\n```\n```json\n{\"cutover\": 1}\n```\n")
	if len(lines) != 1 || lines[0].line != 3 {
		t.Fatalf("shellBlocks = %+v", lines)
	}
	cmds := simpleCommands(lines[0].text)
	if len(cmds) != 1 || strings.Join(cmds[0], "|") != "cutover|proxy|--old|a|--new|b" {
		t.Fatalf("simpleCommands = %q", cmds)
	}
	cmds = simpleCommands(`export T=$(go run ./cmd/cutover token create --scope sdk --name 'my svc') && CUTOVER_TOKEN=x ./cutover status | jq .`)
	var got []string
	for _, c := range cmds {
		if args, ok := cutoverArgs(c); ok {
			got = append(got, strings.Join(args, " "))
		}
	}
	if strings.Join(got, ";") != "token create --scope sdk --name my svc;status" {
		t.Fatalf("cutover invocations = %q (commands %q)", got, cmds)
	}
	if p := checkInvocation([]string{"set", "orders", "--mod=shadow"}); len(p) != 1 {
		t.Fatalf("a misspelt flag passes: %v", p)
	}
	if p := checkInvocation([]string{"sett"}); len(p) != 1 {
		t.Fatalf("a misspelt command passes: %v", p)
	}
}
