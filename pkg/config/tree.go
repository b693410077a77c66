package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// tree is what the YAML node walk learns about the file: which keys are
// present (defaults apply only to absent keys, so an explicit 0 is checked,
// not replaced), where each key is, and where each scalar value starts (to
// tie an unset ${VAR} to the key that holds it).
type tree struct {
	present map[string]bool
	lines   map[string]int
	scalars map[int][]scalarPos
	keys    map[int][]scalarPos // where each key name starts
	probs   []Problem
	budget  int // nodes left to visit; stops alias bombs
	// dups counts duplicated keys. yaml.v3 then abandons the whole
	// mapping that holds one (the root, for a top-level key), so the
	// decoded config is empty there and must not be validated.
	dups int
}

type scalarPos struct {
	col  int
	path string
}

var durationType = reflect.TypeOf(time.Duration(0))

func newTree() *tree {
	return &tree{
		present: map[string]bool{},
		lines:   map[string]int{},
		scalars: map[int][]scalarPos{},
		keys:    map[int][]scalarPos{},
		budget:  1 << 20,
	}
}

func (w *tree) problem(path string, line int, format string, args ...any) {
	w.probs = append(w.probs, Problem{Key: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// lineOf returns the line of key, or of its nearest ancestor present in the
// file (a missing required key is reported where its parent is).
func (w *tree) lineOf(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := w.lines[k]; ok {
			return l
		}
	}
	return 0
}

// keyAt returns the path of the scalar value that contains (line, col),
// falling back to the last key before it on the line (a value that expanded
// to nothing has no position of its own on that line).
func (w *tree) keyAt(line, col int) string {
	for _, m := range []map[int][]scalarPos{w.scalars, w.keys} {
		best, bestCol := "", 0
		for _, s := range m[line] {
			if s.col <= col && s.col >= bestCol {
				best, bestCol = s.path, s.col
			}
		}
		if best != "" {
			return best
		}
	}
	return ""
}

func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i >= 0 {
			return k[:i]
		}
	}
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[:i]
	}
	return ""
}

func joinKey(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// yamlFields maps the yaml key names of struct type t to their types.
func yamlFields(t reflect.Type) (map[string]reflect.Type, []string) {
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			// An inlined struct's keys sit beside the outer ones (yaml.v3
			// ",inline"): groups of keys can live in their own types.
			inner, innerNames := yamlFields(f.Type)
			for _, n := range innerNames {
				fields[n] = inner[n]
			}
			names = append(names, innerNames...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	return fields, names
}

// walk checks node n against Go type t: unknown or repeated keys, and
// values of the wrong kind, each with its key path and line. It replaces the
// terse messages of the decoder with ones that say how to fix the file;
// the strict decoder (KnownFields) still runs afterwards as a backstop.
func (w *tree) walk(n *yaml.Node, t reflect.Type, path string) {
	w.budget--
	if w.budget < 0 {
		if w.budget == -1 {
			w.problem(path, n.Line, "the file expands to too many values (aliases nested too deep); write the values out")
		}
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		w.scalars[n.Line] = append(w.scalars[n.Line], scalarPos{col: n.Column, path: path})
		return // empty value: the zero value, then defaults or "required"
	}
	switch {
	case t.Kind() == reflect.Struct:
		w.walkStruct(n, t, path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		if n.Kind != yaml.SequenceNode {
			hint := "write a list, e.g. [a, b], or one item per line starting with \"- \""
			if n.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf("write a list, e.g. [%s]", n.Value)
			}
			w.problem(path, n.Line, "expected a list, got %s; %s", kindName(n), hint)
			return
		}
		for i, e := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			w.present[p] = true
			w.lines[p] = e.Line
			w.walk(e, t.Elem(), p)
		}
	default:
		w.walkScalar(n, t, path)
	}
}

func (w *tree) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.problem(path, n.Line, "expected a mapping (key: value lines), got %s; indent the keys under %q", kindName(n), path)
		return
	}
	fields, names := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "") {
			// A YAML merge key pulls in another mapping (or a list of them).
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					w.walk(m, t, path)
				}
			} else {
				w.walk(v, t, path)
			}
			continue
		}
		p := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.dups++
			w.problem(p, k.Line, "is set twice (first at line %d); keep only one", first)
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			w.problem(p, k.Line, "unknown key %q; %s", k.Value, suggestKey(k.Value, names))
			continue
		}
		w.present[p] = true
		w.lines[p] = k.Line
		w.keys[k.Line] = append(w.keys[k.Line], scalarPos{col: k.Column, path: p})
		w.walk(v, ft, p)
	}
}

func suggestKey(got string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(n, got) || strings.EqualFold(strings.ReplaceAll(n, "_", ""), strings.ReplaceAll(got, "_", "")) {
			return fmt.Sprintf("did you mean %q? (keys are case-sensitive)", n)
		}
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return "known keys here: " + strings.Join(sorted, ", ")
}

func (w *tree) walkScalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.problem(path, n.Line, "expected a single value, got %s; write one value after the colon", kindName(n))
		return
	}
	w.scalars[n.Line] = append(w.scalars[n.Line], scalarPos{col: n.Column, path: path})
	if t == durationType {
		if n.Tag == "!!int" || n.Tag == "!!float" {
			w.problem(path, n.Line, "%q has no unit; write a duration with a unit, e.g. %ss (seconds), 30m or 24h", n.Value, n.Value)
			return
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			w.problem(path, n.Line, "%q is not a duration; write a number with a unit (s, m, h), e.g. 60s, 30m or 24h", n.Value)
		}
		return
	}
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		switch t.Kind() {
		case reflect.Bool:
			w.problem(path, n.Line, "%q is not a boolean; write true or false", n.Value)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			w.problem(path, n.Line, "%q is not a whole number; write digits only, e.g. 5", n.Value)
		default:
			w.problem(path, n.Line, "%q cannot be read as %s; check the value", n.Value, t)
		}
	}
}
