// The pictures of a topic model (`latentkit plots` on a bag-of-words run): each topic's top words sized by weight, the
// NPMI of each topic as bars, and the mean topic proportion per document label as a heat map.

import Foundation

extension Plots {
    /// Small multiples, `columns` per row: topic k's top words, one a line, each set in a size that grows with its
    /// weight relative to the topic's largest (12 to 22 px), with the topic's NPMI in its heading.
    public static func topicWords(_ topics: [Topic], columns: Int = 5, title: String) throws -> SVGDocument {
        try require(!topics.isEmpty, "topicWords: no topics")
        let words = topics.map(\.words.count).max() ?? 0
        let cellWidth = 170.0, lineHeight = 24.0, cellHeight = 34 + Double(words) * lineHeight, top = 40.0
        let rows = (topics.count + columns - 1) / columns
        var doc = SVGDocument(width: Double(min(columns, topics.count)) * cellWidth + 20, height: top + Double(rows) * cellHeight + 10)
        let n = SVG.number
        doc.add("<text x=\"10\" y=\"24\" font-size=\"15\" font-weight=\"bold\">\(SVG.escape(title))</text>")
        for (i, topic) in topics.enumerated() {
            let x = 10 + Double(i % columns) * cellWidth, y = top + Double(i / columns) * cellHeight
            let colour = SVG.palette[i % SVG.palette.count]
            doc.add("<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(cellWidth - 8))\" height=\"\(n(cellHeight - 8))\" fill=\"none\" stroke=\"#ccc\"/>")
            doc.add("<text x=\"\(n(x + 6))\" y=\"\(n(y + 18))\" font-size=\"12\" fill=\"#444\">"
                    + SVG.escape(String(format: "topic %d · NPMI %+.2f", topic.unit + 1, topic.coherence)) + "</text>")
            let weights = topic.words.map { Double($0.weight) }
            let high = weights.max() ?? 1, low = weights.min() ?? 0
            for (j, word) in topic.words.enumerated() {
                let share = high > low ? (Double(word.weight) - low) / (high - low) : 1
                doc.add("<text x=\"\(n(x + 6))\" y=\"\(n(y + 40 + Double(j) * lineHeight))\" font-size=\"\(n(12 + 10 * share))\" fill=\"\(colour)\">"
                        + SVG.escape(word.word) + "</text>")
            }
        }
        return doc
    }

    /// One horizontal bar per topic: its NPMI, labelled with its first three words.
    public static func topicCoherence(_ topics: [Topic], title: String) throws -> SVGDocument {
        try require(!topics.isEmpty, "topicCoherence: no topics")
        let barHeight = 16.0, labelWidth = 260.0, plotWidth = 420.0, top = 50.0
        let values = topics.map(\.coherence)
        let axis = Axis(minimum: min(0, values.min() ?? 0), maximum: max(0, values.max() ?? 0))
        var doc = SVGDocument(width: labelWidth + plotWidth + 40, height: top + Double(topics.count) * (barHeight + 4) + 50)
        let n = SVG.number
        doc.add("<text x=\"10\" y=\"24\" font-size=\"15\" font-weight=\"bold\">\(SVG.escape(title))</text>")
        func x(_ v: Double) -> Double { labelWidth + 10 + axis.fraction(v) * plotWidth }
        let bottom = top + Double(topics.count) * (barHeight + 4)
        for tick in axis.ticks {
            doc.add("<line x1=\"\(n(x(tick)))\" y1=\"\(n(top - 4))\" x2=\"\(n(x(tick)))\" y2=\"\(n(bottom))\" stroke=\"#ddd\"/>")
            doc.add("<text x=\"\(n(x(tick)))\" y=\"\(n(bottom + 16))\" font-size=\"11\" text-anchor=\"middle\">\(axis.label(tick))</text>")
        }
        doc.add("<text x=\"\(n(x(axis.lower) + plotWidth / 2))\" y=\"\(n(bottom + 34))\" font-size=\"12\" text-anchor=\"middle\">NPMI of the top words</text>")
        for (i, topic) in topics.enumerated() {
            let y = top + Double(i) * (barHeight + 4), v = topic.coherence
            let label = String(format: "%d: ", topic.unit + 1) + topic.words.prefix(3).map(\.word).joined(separator: " ")
            doc.add("<text x=\"\(n(labelWidth))\" y=\"\(n(y + barHeight - 4))\" font-size=\"12\" text-anchor=\"end\">\(SVG.escape(label))</text>")
            let from = x(min(0, v)), to = x(max(0, v))
            doc.add("<rect x=\"\(n(from))\" y=\"\(n(y))\" width=\"\(n(max(to - from, 0.5)))\" height=\"\(n(barHeight))\" fill=\"\(v >= 0 ? "#1f77b4" : "#d62728")\"/>")
        }
        doc.add("<line x1=\"\(n(x(0)))\" y1=\"\(n(top - 4))\" x2=\"\(n(x(0)))\" y2=\"\(n(bottom))\" stroke=\"#333\"/>")
        return doc
    }

    /// A topics × labels heat map of `proportions` (`documents × K`, each row on the simplex): cell (k, l) is the mean
    /// proportion of topic k over the documents of label l, shaded by its value relative to the map's largest.
    public static func topicLabels(proportions: [Float], topics k: Int, labels: [Int], labelNames: [String], topicNames: [String],
                                   title: String) throws -> SVGDocument {
        try require(k >= 1 && proportions.count == labels.count * k, "topicLabels: \(proportions.count) proportions for \(labels.count) documents x \(k) topics")
        try require(topicNames.count == k, "topicLabels: \(topicNames.count) names for \(k) topics")
        let classes = labelNames.count
        try require(labels.allSatisfy { (0..<classes).contains($0) }, "topicLabels: a label outside the \(classes) names")
        var sums = [Double](repeating: 0, count: k * classes), counts = [Int](repeating: 0, count: classes)
        for (d, label) in labels.enumerated() {
            counts[label] += 1
            for t in 0..<k { sums[t * classes + label] += Double(proportions[d * k + t]) }
        }
        let means = sums.indices.map { counts[$0 % classes] > 0 ? sums[$0] / Double(counts[$0 % classes]) : 0 }
        let high = max(means.max() ?? 1, 1e-12)
        let cell = 22.0, left = 250.0, top = 150.0
        var doc = SVGDocument(width: left + Double(classes) * cell + 130, height: top + Double(k) * cell + 30)
        let n = SVG.number
        doc.add("<text x=\"10\" y=\"24\" font-size=\"15\" font-weight=\"bold\">\(SVG.escape(title))</text>")
        for (l, name) in labelNames.enumerated() {
            let x = left + Double(l) * cell + cell / 2 + 4
            doc.add("<text x=\"\(n(x))\" y=\"\(n(top - 6))\" font-size=\"11\" transform=\"rotate(-60 \(n(x)) \(n(top - 6)))\">\(SVG.escape(name))</text>")
        }
        for t in 0..<k {
            let y = top + Double(t) * cell
            doc.add("<text x=\"\(n(left - 6))\" y=\"\(n(y + cell - 7))\" font-size=\"11\" text-anchor=\"end\">\(SVG.escape(topicNames[t]))</text>")
            for l in 0..<classes {
                let shade = means[t * classes + l] / high
                let level = Int((255 * (1 - shade)).rounded())
                doc.add("<rect x=\"\(n(left + Double(l) * cell))\" y=\"\(n(y))\" width=\"\(n(cell - 1))\" height=\"\(n(cell - 1))\" "
                        + "fill=\"rgb(\(level),\(level),255)\"/>")
            }
        }
        return doc
    }
}
