package scenarios_test

import (
	"fmt"

	"github.com/tcpsim/tcpsim/scenarios"
)

// Run a built-in notebook and print the verdict of each expectation.
func ExampleRun() {
	res, err := scenarios.Run("lost-final-ack", scenarios.Config{})
	if err != nil {
		panic(err)
	}
	defer res.Close()
	for _, c := range res.Checks {
		fmt.Println(c.OK, c.Text)
	}
	// Output:
	// true expect 1 packet client>server pure-ack dropped
	// true expect 1 packet server>client FIN retransmitted
	// true expect server LAST-ACK until #9.arrived
	// true expect c TIME-WAIT at #8.arrived
	// true expect c TIME-WAIT until #8.arrived+60s
	// true expect c CLOSED at #8.arrived+60s
}

// A notebook need not be a file: run one from text, with an expectation
// that fails, and read where and why.
func ExampleRunText() {
	nb := "# Who holds TIME-WAIT?\n\n```tcpsim\n" +
		"host client 10.0.0.1\nhost server 10.0.0.2\nlink client server delay=5ms\n" +
		"listen server 80\nconnect client server:80 as c\n+1 close c\nrun 1s\n" +
		"expect c TIME-WAIT\nexpect server:80/1 TIME-WAIT\n```\n"
	res, err := scenarios.RunText("claim.md", nb, scenarios.Config{})
	if err != nil {
		panic(err)
	}
	defer res.Close()
	fmt.Println(res.Passed())
	for _, f := range res.Failures() {
		fmt.Println(f)
	}
	// Output:
	// false
	// claim.md:12:1: expect server:80/1 TIME-WAIT: got server:80/1 at 2.000000: CLOSED
}
