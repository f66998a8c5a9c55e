package scenarios_test

import (
	"fmt"

	"github.com/tcpsim/tcpsim/scenarios"
)

// Run a built-in scenario and print its verdicts.
func ExampleRun() {
	res, err := scenarios.Run("lost-final-ack", scenarios.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	defer res.Close()
	for _, c := range res.Checks {
		fmt.Println(c.OK, c.Text)
	}
	// Output:
	// true the client's final ACK is lost
	// true the server retransmits its FIN from LAST-ACK
	// true the client ACKs the retransmitted FIN from TIME-WAIT
	// true the server reaches CLOSED when that ACK arrives
	// true the client's TIME-WAIT ends 2×MSL (1m0s) after the retransmitted FIN arrived, not after the first
}
