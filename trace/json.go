package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// Check is one claim a scenario makes about its run, and whether the run
// bore it out.
type Check struct {
	Text string
	OK   bool
	// Detail says what was observed (the packet, the time) either way.
	Detail string
	// Pos is where the claim is written (FILE:LINE:COL), if in a file.
	Pos string
}

// Report is a finished run as the CLI shows it.
type Report struct {
	Scenario string
	Title    string
	World    *sim.World
	Checks   []Check
	// Notes say where the hosts' behaviour (gVisor) differs from Linux for
	// this run, and anything else a reader must know to trust the result.
	Notes []string
	// Release, when set, says the hosts were the running Linux kernel of
	// that release (kernel mode), not simulated stacks.
	Release string
	// Stopped, when set, is the budget error that stopped the run before
	// its end: the report holds what ran until then.
	Stopped string
	// Series are the samples the notebook took (its sample statements).
	Series []Sample
	// Summary leaves the packets and the transitions out of the JSON,
	// which then says how many there were (packet_count,
	// transition_count): for runs too big to list.
	Summary bool
}

// Passed reports whether the run went to its end and every check holds.
func (r Report) Passed() bool {
	if r.Stopped != "" {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

type jsonDoc struct {
	Scenario    string           `json:"scenario"`
	Title       string           `json:"title,omitempty"`
	Seed        uint64           `json:"seed"`
	Stack       string           `json:"stack"`
	Backend     string           `json:"backend"`
	Release     string           `json:"kernel_release,omitempty"`
	Hosts       []jsonHost       `json:"hosts"`
	Hops        []jsonHop        `json:"hops"`
	Links       []jsonLink       `json:"links"`
	Packets     []jsonPacket     `json:"packets"`
	Transitions []jsonTransition `json:"transitions"`
	Checks      []jsonCheck      `json:"checks"`
	Notes       []string         `json:"notes"`
	EndNs       int64            `json:"end_ns"`
	Events      int64            `json:"events"`
	Stopped     string           `json:"stopped,omitempty"`
	Series      []jsonSample     `json:"series,omitempty"`
	// Counts, always given: with a summary the lists are left out.
	PacketCount     int `json:"packet_count"`
	TransitionCount int `json:"transition_count"`
	// Records is "none" for a run that kept no packets or transitions
	// (records none): the lists are empty, the counts are whole.
	Records string `json:"records,omitempty"`
}

type jsonSample struct {
	Series   int               `json:"series"`
	TNs      int64             `json:"t_ns"`
	Host     string            `json:"host"`
	States   map[string]int    `json:"states"`
	Connects map[string]uint64 `json:"connects"`
	Counters map[string]uint64 `json:"counters"`
	// HeapBytes is absent for a kernel host.
	HeapBytes *int64 `json:"heap_bytes,omitempty"`
}

// series turns samples into JSON (maps: encoding/json sorts their keys).
func series(samples []Sample) []jsonSample {
	var out []jsonSample
	for _, s := range samples {
		j := jsonSample{Series: s.Series, TNs: int64(s.At), Host: s.Host, States: map[string]int{}, Connects: map[string]uint64{}, Counters: map[string]uint64{}}
		for i, st := range SampledStates {
			j.States[st.String()] = s.States[i]
		}
		for _, c := range s.Connects {
			j.Connects[c.Name] = c.Value
		}
		for _, c := range s.Counters {
			j.Counters[c.Name] = c.Value
		}
		if s.Heap >= 0 {
			j.HeapBytes = &s.Heap
		}
		out = append(out, j)
	}
	return out
}

type jsonHost struct {
	Name         string        `json:"name"`
	Address      string        `json:"address"`
	MSLNs        int64         `json:"msl_ns"`
	TimeWaitNs   int64         `json:"time_wait_ns"`
	FinTimeoutNs int64         `json:"fin_timeout_ns"`
	PortRange    string        `json:"port_range"`
	TWReuse      string        `json:"tw_reuse"`
	Behaviour    string        `json:"behaviour"`
	Kernel       string        `json:"kernel,omitempty"`
	Sysctls      []jsonKV      `json:"sysctls"`
	Counters     []jsonCounter `json:"counters"`
	Log          []string      `json:"log"`
}

type jsonKV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type jsonCounter struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

func sysctls(h *sim.Host) []jsonKV {
	var out []jsonKV
	for _, n := range sim.SysctlNames() {
		v, _ := h.Sysctl(n)
		out = append(out, jsonKV{n, v})
	}
	return out
}

func logLines(h *sim.Host) []string {
	out := []string{}
	for _, l := range h.Log() {
		out = append(out, l.String())
	}
	return out
}

func counters(h *sim.Host) []jsonCounter {
	out := []jsonCounter{}
	for _, c := range h.Counters() {
		out = append(out, jsonCounter(c))
	}
	return out
}

type jsonLink struct {
	A         string  `json:"a"`
	B         string  `json:"b"`
	DelayABNs int64   `json:"delay_ab_ns"`
	DelayBANs int64   `json:"delay_ba_ns"`
	LossAB    float64 `json:"loss_ab"`
	LossBA    float64 `json:"loss_ba"`
}

type jsonPacket struct {
	ID          int      `json:"id"`
	SentNs      int64    `json:"sent_ns"`
	DeliveredNs *int64   `json:"delivered_ns"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Src         string   `json:"src"`
	Dst         string   `json:"dst"`
	Flags       []string `json:"flags"`
	Seq         uint32   `json:"seq"`
	Ack         uint32   `json:"ack"`
	RelSeq      uint32   `json:"rel_seq"`
	RelAck      uint32   `json:"rel_ack"`
	Len         int      `json:"len"`
	Win         uint16   `json:"win"`
	TSVal       *uint32  `json:"tsval"`
	TSEcr       *uint32  `json:"tsecr"`
	Fate        string   `json:"fate"`
	Rule        string   `json:"rule,omitempty"`
	Orig        int      `json:"orig,omitempty"`
	Prev        int      `json:"prev,omitempty"`
	Sender      string   `json:"sender,omitempty"`
	TTL         uint8    `json:"ttl"`
	Discarded   string   `json:"discarded,omitempty"`
	Handled     string   `json:"timewait,omitempty"`
	Corrupted   bool     `json:"corrupted,omitempty"`
}

type jsonHop struct {
	Name string `json:"name"`
	// Kind is router or nat.
	Kind      string        `json:"kind"`
	Address   string        `json:"address,omitempty"`
	Outside   string        `json:"outside,omitempty"`
	NAT       *jsonNAT      `json:"nat,omitempty"`
	Conntrack []jsonBinding `json:"conntrack,omitempty"`
}

type jsonNAT struct {
	Mapping       string `json:"mapping"`
	Ports         string `json:"ports"`
	PortRange     string `json:"port_range"`
	Filtering     string `json:"filtering"`
	Hairpin       bool   `json:"hairpin"`
	EstablishedNs int64  `json:"established_ns"`
	TransitoryNs  int64  `json:"transitory_ns"`
	Timestamps    string `json:"timestamps"`
}

type jsonBinding struct {
	Inside     string `json:"inside"`
	Outside    string `json:"outside"`
	Remote     string `json:"remote"`
	State      string `json:"state"`
	LastUsedNs int64  `json:"last_used_ns"`
	ExpiresNs  int64  `json:"expires_ns"`
	TSOffset   uint32 `json:"ts_offset,omitempty"`
}

func hops(w *sim.World) []jsonHop {
	out := []jsonHop{}
	for _, h := range w.Hops() {
		j := jsonHop{Name: h.Name(), Kind: "router"}
		if h.IsNAT() {
			o := h.Options()
			n := o.NAT
			j.Kind, j.Address, j.Outside = "nat", h.Addr().String(), o.Outside
			j.NAT = &jsonNAT{Mapping: n.Mapping.String(), Ports: n.Ports.String(), PortRange: fmt.Sprintf("%d-%d", n.FirstPort, n.LastPort),
				Filtering: n.Filtering.String(), Hairpin: !n.NoHairpin, EstablishedNs: int64(n.Established), TransitoryNs: int64(n.Transitory),
				Timestamps: n.Timestamps.String()}
			j.Conntrack = []jsonBinding{}
			for _, b := range h.Table() {
				j.Conntrack = append(j.Conntrack, jsonBinding{Inside: b.Inside.String(), Outside: b.Outside.String(), Remote: b.Remote.String(),
					State: b.State.String(), LastUsedNs: int64(b.LastUsed), ExpiresNs: int64(b.Expires), TSOffset: b.TSOffset})
			}
		}
		out = append(out, j)
	}
	return out
}

type jsonTransition struct {
	TNs      int64  `json:"t_ns"`
	Host     string `json:"host"`
	Endpoint int    `json:"endpoint"`
	Local    string `json:"local"`
	Remote   string `json:"remote"`
	From     string `json:"from"`
	To       string `json:"to"`
	Inferred bool   `json:"inferred,omitempty"`
	Cause    string `json:"cause,omitempty"`
}

type jsonCheck struct {
	Text   string `json:"text"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	Pos    string `json:"pos,omitempty"`
}

// WriteJSON writes the run as one JSON document (see docs/json.md). The
// packets and transitions are written one at a time as they are encoded,
// never held as a whole: a run of millions of packets takes the memory of
// one, not of a second copy of the trace (the bytes are those of
// encoding.json's Encoder with a two-space indent, TestJSONStreams).
func WriteJSON(out io.Writer, r Report) error {
	doc := jsonHead(r)
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	text := head.String()
	const pk, tr = "\n  \"packets\": []", "\n  \"transitions\": []"
	i, j := strings.Index(text, pk), strings.Index(text, tr)
	if i < 0 || j < i {
		return fmt.Errorf("trace: JSON head without its lists")
	}
	bw := bufio.NewWriter(out)
	w := r.World
	var pkts []sim.Packet
	var ts []sim.Transition
	if !r.Summary && w.Records() {
		pkts, ts = w.Packets(), w.Transitions()
	}
	var d rowDecoder
	bw.WriteString(text[:i+len(pk)-1])
	err := writeList(bw, len(pkts), func(k int) any { return packetJSON(d.row(pkts[k])) })
	bw.WriteString(text[i+len(pk)-1 : j+len(tr)-1])
	if err == nil {
		err = writeList(bw, len(ts), func(k int) any { return transitionJSON(ts[k]) })
	}
	bw.WriteString(text[j+len(tr)-1:])
	if err != nil {
		return err
	}
	return bw.Flush()
}

// writeList writes the elements of a list of n, inside its brackets, as
// an Encoder indenting by two spaces writes a list at the second level.
func writeList(w *bufio.Writer, n int, elem func(int) any) error {
	for k := 0; k < n; k++ {
		b, err := json.MarshalIndent(elem(k), "    ", "  ")
		if err != nil {
			return err
		}
		w.WriteString("\n    ")
		w.Write(b)
		if k < n-1 {
			w.WriteByte(',')
		}
	}
	if n > 0 {
		w.WriteString("\n  ")
	}
	return nil
}

// jsonHead is the document without its packets and transitions (empty
// lists), which WriteJSON streams into it.
func jsonHead(r Report) jsonDoc {
	w := r.World
	doc := jsonDoc{
		Scenario: r.Scenario, Title: r.Title, Seed: w.Seed(), Stack: sim.StackVersion(),
		Hosts: []jsonHost{}, Hops: hops(w), Links: []jsonLink{}, Packets: []jsonPacket{},
		Transitions: []jsonTransition{}, Checks: []jsonCheck{}, Notes: r.Notes,
		EndNs: int64(w.Now()), Events: w.Events(), Backend: "simulator", Release: r.Release, Stopped: r.Stopped, Series: series(r.Series),
	}
	if r.Release != "" {
		doc.Backend, doc.Stack = "kernel", "linux "+r.Release
	}
	if doc.Notes == nil {
		doc.Notes = []string{}
	}
	for _, h := range w.Hosts() {
		o := h.Options()
		doc.Hosts = append(doc.Hosts, jsonHost{
			Name: h.Name(), Address: h.Addr().String(), MSLNs: int64(o.MSL), TimeWaitNs: int64(h.TimeWait()),
			FinTimeoutNs: int64(o.FinTimeout), PortRange: fmt.Sprintf("%d-%d", o.FirstPort, o.LastPort),
			TWReuse: o.TWReuse.String(), Behaviour: behaviour(h), Kernel: kernel(h), Sysctls: sysctls(h), Counters: counters(h), Log: logLines(h),
		})
	}
	for _, l := range w.Links() {
		ab, ba := l.Path(l.A()), l.Path(l.B())
		doc.Links = append(doc.Links, jsonLink{A: l.A().Name(), B: l.B().Name(),
			DelayABNs: int64(ab.Delay), DelayBANs: int64(ba.Delay), LossAB: ab.Loss, LossBA: ba.Loss})
	}
	doc.PacketCount, doc.TransitionCount = w.PacketCount(), w.TransitionsSeen()
	if !w.Records() {
		doc.Records = "none"
	}
	for _, c := range r.Checks {
		doc.Checks = append(doc.Checks, jsonCheck(c))
	}
	return doc
}

// packetJSON is one packet of the document.
func packetJSON(row Row) jsonPacket {
	p := jsonPacket{
		ID: row.ID, SentNs: int64(row.Sent), From: row.From, To: row.To,
		Fate: row.Fate.String(), Rule: row.Rule, Orig: row.Orig, Prev: row.Prev, Sender: row.Sender, Flags: []string{}, Discarded: row.Discarded, Handled: row.Handled, Corrupted: row.Corrupted,
	}
	if row.Delivered >= 0 && row.Fate != netem.Dropped {
		d := int64(row.Delivered)
		p.DeliveredNs = &d
	}
	if len(row.Data) >= 20 {
		p.TTL = row.Data[8]
	}
	if row.TCP {
		h := row.H
		p.Src, p.Dst = h.Src.String(), h.Dst.String()
		p.Flags = h.Flags.Names()
		p.Seq, p.Ack, p.RelSeq, p.RelAck = h.Seq, h.Ack, row.RelSeq, row.RelAck
		p.Len, p.Win = h.PayloadLen, h.Window
		if h.HasTS {
			v, e := h.TS.Val, h.TS.Ecr
			p.TSVal, p.TSEcr = &v, &e
		}
	}
	return p
}

// transitionJSON is one transition of the document.
func transitionJSON(t sim.Transition) jsonTransition {
	remote := ""
	if t.Remote.IsValid() {
		remote = t.Remote.String()
	}
	return jsonTransition{
		TNs: int64(t.At), Host: t.Host, Endpoint: t.Endpoint, Local: t.Local.String(), Remote: remote,
		From: t.From.String(), To: t.To.String(), Inferred: t.Inferred, Cause: t.Cause,
	}
}

// kernel is the Linux version a linux-profile host models, "" for others;
// a kernel host's is "running".
func kernel(h *sim.Host) string {
	if h.IsKernel() {
		return "running"
	}
	if h.Profile() != sim.Linux {
		return ""
	}
	return h.Options().Kernel.String()
}

// behaviour is a host's profile, or "kernel" for a kernel host.
func behaviour(h *sim.Host) string {
	if h.IsKernel() {
		return "kernel"
	}
	return h.Profile().String()
}
