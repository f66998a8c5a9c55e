package trace

import (
	"encoding/json"
	"io"
)

// MsTimer exposes msTimer to the tests.
var MsTimer = msTimer

// JSONWhole writes the document as WriteJSON did before it streamed: the
// whole document, lists included, through one Encoder.
func JSONWhole(out io.Writer, r Report) error {
	doc := jsonHead(r)
	if !r.Summary && r.World.Records() {
		for _, row := range Rows(r.World.Packets()) {
			doc.Packets = append(doc.Packets, packetJSON(row))
		}
		for _, t := range r.World.Transitions() {
			doc.Transitions = append(doc.Transitions, transitionJSON(t))
		}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
