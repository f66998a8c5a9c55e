// Package scenarios holds tcpsim's built-in scenarios and runs them.
//
// A scenario builds a sim.World (hosts, a link with its rules, the
// applications), runs it to the end, and checks the claims it is about
// against what the World observed. Each claim's verdict is computed from the
// packets and transitions of the run, never from the configuration, so a
// change of seed, MSL or stack version that breaks a claim makes its check
// fail.
//
// The scenarios are Go code for now; the notebook format that will replace
// them is tracked separately.
package scenarios
