import Foundation

/// Text made safe inside an SVG element or attribute.
func svgEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

/// An SVG of two panels of curves over evaluation points 1…n (nil values are skipped).
public func curvesSVG(title: String, xLabel: String, panels: [(name: String, series: [(label: String, values: [Double?])])]) -> String {
    let count = panels.flatMap { $0.series.map(\.values.count) }.max() ?? 0
    let (width, height, pad) = (420.0, 260.0, 44.0)
    func panel(_ name: String, x0: Double, series: [(String, String, [Double?])], fixedRange: (Double, Double)?) -> String {
        let values = series.flatMap { $0.2.compactMap { $0 } }.filter(\.isFinite)
        var (low, high) = fixedRange ?? (values.min() ?? 0, values.max() ?? 1)
        if high - low < 1e-9 { high = low + 1 }
        if fixedRange == nil { low = max(0, low - 0.05 * (high - low)) }
        let n = max(count, 2)
        func px(_ i: Int) -> Double { x0 + pad + Double(i) / Double(n - 1) * (width - 1.5 * pad) }
        func py(_ v: Double) -> Double { height - pad - (v - low) / (high - low) * (height - 1.7 * pad) }
        var out = "<g font-family=\"sans-serif\" font-size=\"11\">"
        out += "<rect x=\"\(x0 + pad)\" y=\"\(0.7 * pad)\" width=\"\(width - 1.5 * pad)\" height=\"\(height - 1.7 * pad)\" fill=\"none\" stroke=\"#999\"/>"
        out += "<text x=\"\(x0 + width / 2)\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">\(name)</text>"
        // Enough decimals that the five tick labels differ.
        let decimals = max(0, Int((-log10((high - low) / 4)).rounded(.up)) + 1)
        for k in 0...4 {
            let v = low + Double(k) / 4 * (high - low)
            out += "<text x=\"\(x0 + pad - 4)\" y=\"\(py(v) + 4)\" text-anchor=\"end\">\(String(format: "%.\(decimals)f", v))</text>"
        }
        out += "<text x=\"\(x0 + width / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">\(xLabel) (1–\(count))</text>"
        for (k, (label, color, ys)) in series.enumerated() {
            let points = ys.enumerated().compactMap { i, v in v.map { "\(px(i)),\(py($0))" } }.joined(separator: " ")
            out += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            for (i, v) in ys.enumerated() { if let v { out += "<circle cx=\"\(px(i))\" cy=\"\(py(v))\" r=\"2.5\" fill=\"\(color)\"/>" } }
            // Legend in the title row, right-aligned, so it never covers a curve.
            out += "<text x=\"\(x0 + width - 0.5 * pad - 80 * Double(series.count - 1 - k))\" y=\"16\" text-anchor=\"end\" fill=\"\(color)\">— \(label)</text>"
        }
        return out + "</g>"
    }
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(2 * width)\" height=\"\(height + 20)\" viewBox=\"0 0 \(2 * width) \(height + 20)\">"
    svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    svg += "<text x=\"\(width)\" y=\"\(height + 14)\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"11\">\(svgEscape(title))</text>"
    let colors = ["#1f77b4", "#d62728", "#2ca02c"]
    for (i, p) in panels.prefix(2).enumerated() {
        svg += panel(p.name, x0: Double(i) * width,
                     series: p.series.enumerated().map { ($1.label, colors[$0 % colors.count], $1.values) }, fixedRange: nil)
    }
    return svg + "</svg>\n"
}

/// One line of a `forecastSVG` panel: a value (or nil) at every step of the plot.
public struct PlotLine: Sendable {
    public var label: String
    public var color: String
    public var dashed: Bool
    public var values: [Double?]

    public init(label: String, color: String, dashed: Bool = false, values: [Double?]) {
        self.label = label
        self.color = color
        self.dashed = dashed
        self.values = values
    }
}

/// An SVG of one panel per forecast target, stacked: lines over the steps `times` names, with a
/// vertical rule where the test span begins (`split`) and times written under the axis.
public func forecastSVG(title: String, times: [String], split: Int?, panels: [(name: String, lines: [PlotLine])]) -> String {
    let (width, height, left, right, top, bottom) = (860.0, 240.0, 64.0, 16.0, 26.0, 36.0)
    let n = max(times.count, 2)
    func px(_ i: Int) -> Double { left + Double(i) / Double(n - 1) * (width - left - right) }
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(Double(panels.count) * height + 24)\" "
        + "viewBox=\"0 0 \(width) \(Double(panels.count) * height + 24)\">"
    svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    for (p, panel) in panels.enumerated() {
        let y0 = Double(p) * height
        let values = panel.lines.flatMap { $0.values.compactMap { $0 } }.filter(\.isFinite)
        var (low, high) = (values.min() ?? 0, values.max() ?? 1)
        if high - low < 1e-9 { high = low + 1 }
        (low, high) = (low - 0.05 * (high - low), high + 0.05 * (high - low))
        func py(_ v: Double) -> Double { y0 + height - bottom - (v - low) / (high - low) * (height - top - bottom) }
        svg += "<g font-family=\"sans-serif\" font-size=\"11\">"
        svg += "<rect x=\"\(left)\" y=\"\(y0 + top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"none\" stroke=\"#999\"/>"
        svg += "<text x=\"\(left)\" y=\"\(y0 + 17)\" font-size=\"13\">\(svgEscape(panel.name))</text>"
        let decimals = max(0, Int((-log10((high - low) / 4)).rounded(.up)) + 1)
        for k in 0...4 {
            let v = low + Double(k) / 4 * (high - low)
            svg += "<text x=\"\(left - 4)\" y=\"\(py(v) + 4)\" text-anchor=\"end\">\(String(format: "%.\(decimals)f", v))</text>"
        }
        for k in 0...4 where !times.isEmpty {
            let i = k * (times.count - 1) / 4
            svg += "<text x=\"\(px(i))\" y=\"\(y0 + height - bottom + 14)\" text-anchor=\"\(k == 0 ? "start" : k == 4 ? "end" : "middle")\">"
                + "\(svgEscape(String(times[i].prefix(20))))</text>"
        }
        if let split, split > 0 && split < times.count {
            svg += "<line x1=\"\(px(split))\" y1=\"\(y0 + top)\" x2=\"\(px(split))\" y2=\"\(y0 + height - bottom)\" stroke=\"#bbb\" stroke-dasharray=\"2,3\"/>"
        }
        for (k, line) in panel.lines.enumerated() {
            // Break the polyline where values are missing.
            var runs: [[String]] = [[]]
            for (i, v) in line.values.enumerated() {
                if let v, v.isFinite { runs[runs.count - 1].append("\(px(i)),\(py(v))") } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
            }
            for run in runs where !run.isEmpty {
                svg += "<polyline points=\"\(run.joined(separator: " "))\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"1.5\""
                    + (line.dashed ? " stroke-dasharray=\"5,3\"" : "") + "/>"
            }
            svg += "<text x=\"\(width - right - 110 * Double(panel.lines.count - 1 - k))\" y=\"\(y0 + 17)\" text-anchor=\"end\" "
                + "fill=\"\(line.color)\">— \(svgEscape(line.label))</text>"
        }
        svg += "</g>"
    }
    svg += "<text x=\"\(width / 2)\" y=\"\(Double(panels.count) * height + 14)\" text-anchor=\"middle\" font-family=\"sans-serif\" "
        + "font-size=\"11\">\(svgEscape(title))</text>"
    return svg + "</svg>\n"
}

/// An SVG heat map of attention: one column per source token (written above), one row per output
/// token (written at the left, `</s>` last when the output ended), each cell shaded by its weight
/// from white (0) to dark blue (the row's largest weight is usually near 1), with the weight
/// written in cells of at least 0.1.
/// - Parameter weights: one row per output step, each with one weight per source token.
public func attentionSVG(title: String, source: [String], output: [String], weights: [[Float]]) -> String {
    precondition(weights.count == output.count && weights.allSatisfy { $0.count == source.count }, "one weight per source token and output step")
    let cell = 30.0
    let labelWidth = max(48.0, 8.0 * Double(output.map(\.count).max() ?? 1) + 12)
    let labelHeight = max(40.0, 8.0 * Double(source.map(\.count).max() ?? 1) + 16)
    let (top, left) = (labelHeight + 24, labelWidth)
    let caption = "columns: source; rows: output; shade: attention weight"
    let width = max(left + cell * Double(source.count) + 16, left + 7.5 * Double(max(title.count, caption.count)))
    let height = top + cell * Double(output.count) + 34
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
    svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/><g font-family=\"sans-serif\" font-size=\"12\">"
    svg += "<text x=\"\(left)\" y=\"16\" font-size=\"13\">\(svgEscape(title))</text>"
    for (j, token) in source.enumerated() {
        // Source tokens read upwards above their columns, so long words fit.
        let x = left + cell * (Double(j) + 0.5) + 4, y = top - 6
        svg += "<text x=\"\(x)\" y=\"\(y)\" transform=\"rotate(-90 \(x) \(y))\">\(svgEscape(token))</text>"
    }
    for (i, token) in output.enumerated() {
        let y = top + cell * Double(i)
        svg += "<text x=\"\(left - 6)\" y=\"\(y + cell / 2 + 4)\" text-anchor=\"end\">\(svgEscape(token))</text>"
        for (j, w) in weights[i].enumerated() {
            let v = Double(min(max(w, 0), 1))
            // White → #08306b (ColorBrewer's darkest blue).
            let (r, g, b) = (255 - v * (255 - 8), 255 - v * (255 - 48), 255 - v * (255 - 107))
            svg += "<rect x=\"\(left + cell * Double(j))\" y=\"\(y)\" width=\"\(cell)\" height=\"\(cell)\" "
                + "fill=\"rgb(\(Int(r)),\(Int(g)),\(Int(b)))\" stroke=\"#ddd\"/>"
            if v >= 0.1 {
                svg += "<text x=\"\(left + cell * (Double(j) + 0.5))\" y=\"\(y + cell / 2 + 4)\" text-anchor=\"middle\" font-size=\"9\" "
                    + "fill=\"\(v > 0.5 ? "white" : "black")\">\(String(format: "%.2f", v))</text>"
            }
        }
    }
    svg += "<text x=\"\(left)\" y=\"\(height - 10)\" font-size=\"11\">\(caption)</text>"
    return svg + "</g></svg>"
}
