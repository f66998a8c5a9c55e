package sim

// gvisorVersion is the gVisor module version go.mod pins; a test keeps the
// two in step. It is a constant rather than read from build information so
// that every binary (the CLI, a test) writes the same bytes.
const gvisorVersion = "v0.0.0-20260905035102-160fafc42237"

// StackVersion names the gVisor netstack the hosts run.
func StackVersion() string { return "gvisor.dev/gvisor@" + gvisorVersion }
