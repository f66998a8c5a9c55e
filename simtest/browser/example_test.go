package browser_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tcpsim/tcpsim/simtest/browser"
)

// A report rendered as a person would see it: its arrows counted, and
// nothing wrong in the console or on the network. (The example needs a
// browser, so it has no Output and go test only builds it.)
func ExampleRender() {
	p, err := browser.Render(context.Background(), "report.html", browser.Options{
		Count: []string{"svg line.arrow"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("arrows:", p.Counts["svg line.arrow"])
	fmt.Println("blank:", p.Blank())
	fmt.Println("console:", p.Console)
	fmt.Println("requests:", p.Requests)
}
