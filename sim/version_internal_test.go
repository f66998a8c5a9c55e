package sim

import (
	"os"
	"strings"
	"testing"
)

func TestStackVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := "gvisor.dev/gvisor " + gvisorVersion
	if !strings.Contains(string(mod), want) {
		t.Errorf("go.mod does not require %q: update gvisorVersion in sim/version.go", want)
	}
}
