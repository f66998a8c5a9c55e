package sim_test

import (
	"testing"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
)

// TestNotebooksObservedQuietly runs every shipped notebook with each
// observation checking that the endpoints it did not poll kept their state
// (the observer polls only what an event touched).
func TestNotebooksObservedQuietly(t *testing.T) {
	sim.SetCheckQuiet(true)
	for _, name := range scenarios.Names() {
		t.Run(name, func(t *testing.T) {
			res, err := scenarios.Run(name, scenarios.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Passed() {
				t.Errorf("%s's expectations failed", name)
			}
			res.Close()
		})
	}
}
