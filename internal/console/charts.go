package console

import "math"

// Charts are drawn on the server as inline SVG with only presentation attributes and CSS
// classes (no script, no style attribute, so the CSP holds), and each comes with a table of
// the same numbers for screen readers and for reading exact values.

// The widths of a row chart's label and value columns, in viewBox units.
const rowLabelW, rowValueW = 190.0, 70.0

// columnsBottom is the room under a column chart's axis for its labels.
const columnsBottom = 22.0

// Point is one labelled value of a chart.
type Point struct {
	Label string
	Value float64
	// Note is an optional second line for the table (e.g. "12 of 40").
	Note string
}

// Bar is a drawn bar: its rectangle and where its labels go, in the chart's viewBox units.
type Bar struct {
	Point
	X, Y, W, H     float64
	LabelX, LabelY float64
	ValueX, ValueY float64
	ShowLabel      bool
}

// Chart is a bar chart ready to draw: the viewBox size and the bars.
type Chart struct {
	// ID names the chart in the page; its caption has id ID + "-cap".
	ID            string
	Width, Height float64
	Bars          []Bar
	// Percent marks values that are percentages (drawn on a 0-100 scale).
	Percent bool
	// ShowValues is false when the bars are too many to label each.
	ShowValues bool
}

// TrackWidth is the full length of a row's bar (100%), for its background.
func (c Chart) TrackWidth() float64 { return c.Width - rowLabelW - rowValueW }

// Baseline is the y of a column chart's axis.
func (c Chart) Baseline() float64 { return c.Height - columnsBottom }

// Empty reports whether there is nothing to draw.
func (c Chart) Empty() bool { return len(c.Bars) == 0 }

// Columns lays points out as vertical bars scaled to the largest value, labelling at most
// about ten of them on the axis.
func Columns(points []Point) Chart {
	const w, h, top, bottom = 600.0, 180.0, 18.0, columnsBottom
	c := Chart{Width: w, Height: h, ShowValues: len(points) <= 12}
	top1 := maxValue(points)
	slot := w / float64(max(len(points), 1))
	every := int(math.Ceil(float64(len(points)) / 10))
	for i, p := range points {
		bh := (h - top - bottom) * p.Value / top1
		x := float64(i) * slot
		c.Bars = append(c.Bars, Bar{Point: p, X: x + slot*0.15, W: slot * 0.7, Y: h - bottom - bh, H: bh,
			LabelX: x + slot/2, LabelY: h - 6, ValueX: x + slot/2, ValueY: h - bottom - bh - 4,
			ShowLabel: i%max(every, 1) == 0 || i == len(points)-1})
	}
	return c
}

// Rows lays points out as horizontal bars, one row each, on a 0-100 scale when percent is set
// and scaled to the largest value otherwise.
func Rows(points []Point, percent bool) Chart {
	const w, row, labelW, valueW = 600.0, 28.0, rowLabelW, rowValueW
	c := Chart{Width: w, Height: row * float64(max(len(points), 1)), Percent: percent, ShowValues: true}
	top := maxValue(points)
	if percent {
		top = 100
	}
	for i, p := range points {
		y := float64(i) * row
		bw := (w - labelW - valueW) * math.Min(p.Value, top) / top
		short := p
		if r := []rune(p.Label); len(r) > 28 {
			short.Label = string(r[:27]) + "…"
		}
		c.Bars = append(c.Bars, Bar{Point: short, X: labelW, Y: y + 5, W: bw, H: row - 10,
			LabelX: labelW - 8, LabelY: y + row/2 + 5, ValueX: labelW + bw + 6, ValueY: y + row/2 + 5, ShowLabel: true})
	}
	return c
}

func maxValue(points []Point) float64 {
	top := 0.0
	for _, p := range points {
		top = math.Max(top, p.Value)
	}
	if top <= 0 {
		return 1
	}
	return top
}
