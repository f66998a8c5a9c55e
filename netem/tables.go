package netem

import "math"

// The jitter tables tc-netem loads from iproute2's normal.dist, pareto.dist
// and paretonormal.dist, generated here as iproute2's maketable programs
// (netem/normal.c, pareto.c, paretonormal.c) generate them: 4096 entries in
// units of jitter/DistScale, clipped to int16.
var (
	normalTable       = makeTable(func(i int) float64 { return normalValue(i) })
	paretoTable       = makeTable(func(i int) float64 { return float64(paretoValue(i)) })
	paretoNormalTable = makeTable(func(i int) float64 {
		return float64((int(math.RoundToEven(normalValue(i))) + 3*paretoValue(i)) / 4)
	})
)

const tableSize = 16384 // TABLESIZE in iproute2's generators

func makeTable(v func(i int) float64) []int16 {
	t := make([]int16, 0, tableSize/4)
	for i := 0; i < tableSize; i += 4 {
		x := math.RoundToEven(v(i))
		t = append(t, int16(max(math.MinInt16, min(math.MaxInt16, x))))
	}
	return t
}

// normalValue is the inverse normal CDF at table slot i, times DistScale.
func normalValue(i int) float64 {
	p := (float64(i) + 0.5) / tableSize
	return math.Sqrt2 * math.Erfinv(2*p-1) * DistScale
}

// paretoValue is a Pareto (a = 3) quantile shifted to mean 0 and scaled to
// unit spread, times DistScale.
func paretoValue(i int) int {
	const a = 3.0
	d := float64(tableSize*4-4*i) / float64(tableSize*4)
	d = 1/math.Pow(d, 1/a) - 1.5
	d *= (4.0 / 3.0) * DistScale
	return int(math.RoundToEven(min(d, math.MaxInt16)))
}
