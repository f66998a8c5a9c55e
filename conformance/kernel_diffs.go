package conformance

// KernelDiffs are the known differences between the linux profile and the
// Linux 6.18 kernel in the conformance set, each with its mechanism. A
// difference here is a fact about the model to fix or a limit of a real
// kernel to live with, never a number to make a comparison pass.
var KernelDiffs = []Known{
	// Limits of a real kernel: ISNs it draws at random.
	{Notebook: "nat-port-reuse", Aspect: States, Why: randomISN},
	{Notebook: "nat-port-reuse", Aspect: Segments, Why: randomISN},
	{Notebook: "nat-port-reuse", Aspect: Counters, Why: randomISN},
	{Notebook: "nat-port-reuse", Aspect: Timings, Why: randomISN},
	{Notebook: "paws", Aspect: Segments, Where: "nc-ns: nc n1", Why: isnWrap},
}

const (
	randomISN = "whether a new client's SYN through the NAT is below or above the TIME-WAIT's RCV.NXT (an ACK, or a SYN-ACK) depends on " +
		"the two clients' ISNs, which the kernel draws from a keyed hash of each client's own tuple (secure_tcp_seq) and a clock; " +
		"the notebook's seed fixes them in the simulator, the kernel's choice differs run to run, and what follows (RSTs, counters) follows it"
	isnWrap = "the old duplicate lands in the new connection because both ISN clocks wrapped (2^32 ticks of 64 ns, 274.877906944 s) to the " +
		"same ISNs; a kernel run is milliseconds off that instant, so its ISNs differ by thousands of ticks, the old segment's ACK is " +
		"not acceptable (tcp_ack: after SND.NXT) and it is dropped without timestamps too"
)
