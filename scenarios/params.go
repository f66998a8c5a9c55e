package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// This file holds a notebook's parameters: param NAME=DEFAULT, replaced
// by Config.Set (--set NAME=VALUE), and $NAME in later statements.

var (
	paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	paramRef  = regexp.MustCompile(`\$[A-Za-z_][A-Za-z0-9_]*`)
)

// cmdParam: param NAME=DEFAULT ... declares parameters. A --set of the
// same name replaces the default.
func (in *interp) cmdParam(st stmt, args []token) error {
	if len(args) == 0 {
		return in.errEnd(st, "param takes NAME=DEFAULT, e.g. param rate=100/s")
	}
	for _, a := range args {
		name, def, ok := strings.Cut(a.text, "=")
		if !ok || !paramName.MatchString(name) {
			return in.errAt(st, a, "param %q: want NAME=DEFAULT with NAME a word of letters, digits and _", a.text)
		}
		if _, dup := in.params[name]; dup {
			return in.errAt(st, a, "param %s is declared twice", name)
		}
		if v, ok := in.cfg.set(name); ok {
			def = v
		}
		if in.params == nil {
			in.params = map[string]string{}
		}
		in.params[name] = def
		in.paramOrder = append(in.paramOrder, name)
		in.printf("param %s = %s\n", name, def)
	}
	return nil
}

// set returns the value --set gives name.
func (c Config) set(name string) (string, bool) {
	for _, s := range c.Set {
		if k, v, ok := strings.Cut(s, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// substitute replaces $NAME in each token (the value of key=value and
// quoted strings included) with the parameter's value.
func (in *interp) substitute(st stmt) (stmt, error) {
	if len(st.toks) > 0 && st.toks[0].text == "param" {
		return st, nil
	}
	for i, t := range st.toks {
		if !strings.Contains(t.text, "$") {
			continue
		}
		var bad string
		t.text = paramRef.ReplaceAllStringFunc(t.text, func(ref string) string {
			v, ok := in.params[ref[1:]]
			if !ok && bad == "" {
				bad = ref
			}
			return v
		})
		if bad != "" {
			return st, in.errAt(st, st.toks[i], "%s: no such parameter (declare it with param %s=DEFAULT; parameters: %s)", bad, bad[1:], in.paramNames())
		}
		st.toks[i] = t
	}
	return st, nil
}

func (in *interp) paramNames() string {
	if len(in.paramOrder) == 0 {
		return "none"
	}
	return strings.Join(in.paramOrder, ", ")
}

// checkSets refuses a --set of a parameter the notebook never declared.
func (in *interp) checkSets() error {
	for _, s := range in.cfg.Set {
		name, _, _ := strings.Cut(s, "=")
		if !slices.Contains(in.paramOrder, name) {
			return &ConfigError{Msg: fmt.Sprintf("--set %s: %s has no parameter %q: want one of %s", s, in.file, name, in.paramNames())}
		}
	}
	return nil
}
