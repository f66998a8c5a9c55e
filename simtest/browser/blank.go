package browser

import (
	"bytes"
	"image/png"
)

// Blank says whether the screenshot shows (nearly) nothing: at most one
// pixel in 10,000 differs from its most common colour (a word of text or
// a short line is more). A screenshot that is not a PNG is blank.
func (p *Page) Blank() bool {
	ink, total, ok := p.ink()
	return !ok || ink <= total/10000
}

// ink counts the screenshot's pixels that differ from its most common
// colour, and all its pixels; ok is false when it does not decode.
func (p *Page) ink() (ink, total int, ok bool) {
	img, err := png.Decode(bytes.NewReader(p.Screenshot))
	if err != nil {
		return 0, 0, false
	}
	b := img.Bounds()
	counts := map[[4]uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			counts[[4]uint32{r, g, bl, a}]++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	total = b.Dx() * b.Dy()
	return total - most, total, true
}
