package trace_test

import (
	"os"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/trace"
)

// The packet trace of a simultaneous close, as tcpdump would print it with
// each packet's fate: the handshake, then both FINs sent at 0.1 s crossing
// in flight (#4, #5), each ACKed from CLOSING (#6, #7).
func ExampleWriteText() {
	res, err := scenarios.Run("simultaneous-close", scenarios.Config{Seed: scenarios.Seed(1)})
	if err != nil {
		panic(err)
	}
	defer res.Close()
	// The notebook's first part: both sides close at 0.1 s, the FINs
	// cross, each ACKs the other's.
	_ = trace.WriteText(os.Stdout, res.World.Packets()[:7])
	// Output:
	// #1     0.000000 client>server 10.0.0.1.52714 > 10.0.0.2.80: Flags [S], seq 4228627993, win 29184, options [TS val 1682876862 ecr 0], length 0 | arrives 0.010000
	// #2     0.010000 server>client 10.0.0.2.80 > 10.0.0.1.52714: Flags [S.], seq 3988163363, ack 4228627994, win 29184, options [TS val 2238304204 ecr 1682876862], length 0 | arrives 0.020000
	// #3     0.020000 client>server 10.0.0.1.52714 > 10.0.0.2.80: Flags [.], seq 1, ack 1, win 228, options [TS val 1682876882 ecr 2238304204], length 0 | arrives 0.030000
	// #4     0.100000 client>server 10.0.0.1.52714 > 10.0.0.2.80: Flags [F.], seq 1, ack 1, win 4096, options [TS val 1682876962 ecr 2238304204], length 0 | arrives 0.110000
	// #5     0.100000 server>client 10.0.0.2.80 > 10.0.0.1.52714: Flags [F.], seq 1, ack 1, win 4096, options [TS val 2238304294 ecr 1682876882], length 0 | arrives 0.110000
	// #6     0.110000 server>client 10.0.0.2.80 > 10.0.0.1.52714: Flags [.], seq 2, ack 2, win 4095, options [TS val 2238304304 ecr 1682876882], length 0 | arrives 0.120000
	// #7     0.110000 client>server 10.0.0.1.52714 > 10.0.0.2.80: Flags [.], seq 2, ack 2, win 4095, options [TS val 1682876972 ecr 2238304204], length 0 | arrives 0.120000
}
