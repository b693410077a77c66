package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the file at path, expands environment variables from the
// process environment and returns the validated config, or an *Error that
// lists every problem (wrapped read errors otherwise).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse is Load without the file system: data is the file's content, path
// names it in messages, lookupEnv resolves $VAR / ${VAR} (nil: every
// variable is unset). The steps: expand variables; read the YAML tree and
// check keys and value kinds against the Go types; decode strictly; apply
// defaults to absent keys; validate everything; decode or (dev only)
// generate secrets; build the lookup indexes.
func Parse(data []byte, path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	file := path
	if file == "" {
		file = "config"
	}
	fail := func(probs []Problem) (*Config, error) {
		return nil, &Error{File: file, Problems: probs}
	}

	expanded, refs, probs := expandEnv(data, lookupEnv)

	var root yaml.Node
	if err := yaml.Unmarshal(expanded, &root); err != nil {
		return fail(append(probs, syntaxProblem(err)))
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return fail(append(probs, Problem{Message: "the file is empty; start from config/example.yaml"}))
	}
	tr := newTree()
	tr.walk(root.Content[0], reflect.TypeOf(Config{}), "")
	probs = append(probs, tr.probs...)
	if tr.dups > 0 {
		// The decoder drops every mapping holding a duplicated key: what
		// validation would say about the empty result ("is required" for
		// keys that are there) is false. Report what the walk found.
		return fail(probs)
	}

	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && len(tr.probs) == 0 {
		// The tree walk should have caught everything the decoder refuses;
		// this is the backstop, with the decoder's own words. When the walk
		// did find problems, the decoder has still filled what it could
		// (yaml.v3 goes on after a type error), so validation below can
		// report the remaining problems in the same round.
		return fail(append(probs, decodeProblems(err)...))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fail(append(probs, Problem{Line: extra.Line, Message: "the file holds more than one YAML document (---); keep only one"}))
	}
	cfg.Path = path

	unset := map[string][]string{}
	for _, r := range refs {
		if !r.set {
			k := tr.keyAt(r.line, r.col)
			unset[k] = append(unset[k], r.name)
		}
	}

	v := &validator{tree: tr, unset: unset}
	v.applyDefaults(&cfg)
	v.validate(&cfg)
	for _, p := range v.probs {
		// A key the walk already reported holds a zero value now; a second
		// message about it would only confuse.
		if !coveredBy(p.Key, tr.probs) {
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		// File order reads best; problems without a line go last.
		sort.SliceStable(probs, func(i, j int) bool {
			li, lj := probs[i].Line, probs[j].Line
			return li != 0 && (lj == 0 || li < lj)
		})
		return fail(probs)
	}
	for _, k := range sortedKeys(unset) {
		if k == "" {
			continue // a reference in a comment or a key name
		}
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s: %s: %s not set in the environment; the value is empty",
			file, k, varList(unset[k])))
	}
	cfg.buildIndex()
	return &cfg, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

func syntaxProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Message: "YAML syntax error: " + m[2] + "; check indentation, colons and quotes on this line or the one before"}
	}
	return Problem{Message: "YAML syntax error: " + msg + "; check indentation, colons and quotes"}
}

func decodeProblems(err error) []Problem {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var probs []Problem
		for _, e := range te.Errors {
			p := Problem{Message: e + "; fix the value's type"}
			if m := yamlLine.FindStringSubmatch(e); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				p.Message = m[2] + "; fix the value's type"
			}
			probs = append(probs, p)
		}
		return probs
	}
	return []Problem{syntaxProblem(err)}
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func varList(names []string) string {
	if len(names) == 1 {
		return "environment variable " + names[0] + " is"
	}
	return "environment variables " + strings.Join(names, ", ") + " are"
}

// coveredBy reports whether key is, or lies under or above, a key that
// already has a problem.
func coveredBy(key string, probs []Problem) bool {
	for _, p := range probs {
		if p.Key == "" {
			continue
		}
		if key == p.Key || under(key, p.Key) || under(p.Key, key) {
			return true
		}
	}
	return false
}

func under(key, parent string) bool {
	return parent != "" && strings.HasPrefix(key, parent) &&
		len(key) > len(parent) && (key[len(parent)] == '.' || key[len(parent)] == '[')
}
