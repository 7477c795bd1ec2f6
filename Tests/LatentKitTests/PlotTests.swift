// The picture writers read back by independent decoders (Python's zlib/struct for PNG, xml.etree for SVG), t-SNE on
// separated clusters, the inverse normal CDF and the lattice's coordinates.

import Foundation
import LatentKit
import Testing
import TestSupport

/// Runs `python3 -c script args...` and returns its standard output; a failing script fails the test.
func runPython(_ script: String, _ arguments: [String]) throws -> String {
    let result = try runProgram("/usr/bin/env", ["python3", "-c", script] + arguments)
    #expect(result.status == 0, "python: \(result.stderr)")
    return result.stdout
}

/// Decodes a PNG (colour types 0 and 2, 8 bits, filter None) and prints width, height, channels, then every sample.
let pngDecoder = """
    import struct, sys, zlib
    b = open(sys.argv[1], 'rb').read(); assert b[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
    pos, idat, ihdr = 8, b'', None
    while pos < len(b):
        n, t = struct.unpack('>I4s', b[pos:pos + 8]); d = b[pos + 8:pos + 8 + n]
        assert zlib.crc32(t + d) == struct.unpack('>I', b[pos + 8 + n:pos + 12 + n])[0]
        if t == b'IHDR': ihdr = struct.unpack('>IIBBBBB', d)
        if t == b'IDAT': idat += d
        pos += 12 + n
    w, h, depth, colour = ihdr[:4]; assert depth == 8 and colour in (0, 2)
    ch = 1 if colour == 0 else 3
    raw = zlib.decompress(idat); assert len(raw) == h * (w * ch + 1)
    samples = []
    for y in range(h):
        row = raw[y * (w * ch + 1):(y + 1) * (w * ch + 1)]; assert row[0] == 0
        samples += list(row[1:])
    print(w, h, ch, *samples)
    """

func decodePNG(_ path: String) throws -> (width: Int, height: Int, channels: Int, samples: [Int]) {
    let fields = try runPython(pngDecoder, [path]).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    try #require(fields.count >= 3)
    return (fields[0], fields[1], fields[2], Array(fields.dropFirst(3)))
}

@Suite struct PlotTests {
    @Test func grayscaleAndRGBPNGsDecodeToTheirPixels() throws {
        let dir = try temporaryDirectory("png")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let grey: [UInt8] = (0..<12).map { UInt8($0 * 21) }
        try PNG.write(try PNG.grayscale(width: 4, height: 3, pixels: grey), to: dir + "/grey.png")
        let g = try decodePNG(dir + "/grey.png")
        #expect(g.width == 4 && g.height == 3 && g.channels == 1 && g.samples == grey.map(Int.init))

        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50, 1, 2, 3]
        try PNG.write(try PNG.rgb(width: 3, height: 2, pixels: rgb), to: dir + "/rgb.png")
        let c = try decodePNG(dir + "/rgb.png")
        #expect(c.width == 3 && c.height == 2 && c.channels == 3 && c.samples == rgb.map(Int.init))

        #expect(throws: (any Error).self) { try PNG.rgb(width: 3, height: 2, pixels: [1, 2, 3]) }
    }

    @Test func rgbGridHasColouredGapsAndGreyTiles() throws {
        let dir = try temporaryDirectory("png-grid")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // two 2x2 tiles: all white, and a ramp
        let tiles: [[Float]] = [[1, 1, 1, 1], [0, 0.5, 0.75, 1]]
        try PNG.writeGrid(tiles, side: 2, columns: 2, gapColour: RGB(10, 20, 30), to: dir + "/grid.png")
        let p = try decodePNG(dir + "/grid.png")
        #expect(p.width == 7 && p.height == 4 && p.channels == 3)
        func pixel(_ x: Int, _ y: Int) -> [Int] { Array(p.samples[(3 * (y * p.width + x))..<(3 * (y * p.width + x) + 3)]) }
        #expect(pixel(0, 0) == [10, 20, 30] && pixel(3, 2) == [10, 20, 30] && pixel(6, 3) == [10, 20, 30])
        #expect(pixel(1, 1) == [255, 255, 255] && pixel(2, 2) == [255, 255, 255])
        #expect(pixel(4, 1) == [0, 0, 0] && pixel(5, 1) == [128, 128, 128] && pixel(4, 2) == [191, 191, 191] && pixel(5, 2) == [255, 255, 255])
    }

    @Test func scatterCirclesLandWhereTheAxesMapTheirData() throws {
        let dir = try temporaryDirectory("svg-scatter")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let x: [Double] = [-3, 0, 2.5, 7, 1], y: [Double] = [10, 20, 15, 12, 11], labels = [0, 1, 1, 9, 0]
        let (document, panel) = try Plots.scatter(x: x, y: y, labels: labels, title: "a <title> & more", xLabel: "z1", yLabel: "z2")
        try document.write(to: dir + "/scatter.svg")
        #expect(panel.x.lower <= -3 && panel.x.upper >= 7 && panel.y.lower <= 10 && panel.y.upper >= 20)
        let out = try runPython("""
            import sys, xml.etree.ElementTree as ET
            ns = '{http://www.w3.org/2000/svg}'
            root = ET.parse(sys.argv[1]).getroot()
            box = [r for r in root.iter(ns + 'rect') if r.get('class') == 'plot-box'][0]
            print(box.get('x'), box.get('y'), box.get('width'), box.get('height'))
            for g in root.iter(ns + 'g'):
                for c in g.iter(ns + 'circle'): print(g.get('fill'), c.get('cx'), c.get('cy'))
            print('legend', len([r for r in root.iter(ns + 'rect') if r.get('class') == 'legend-key']))
            print('title', [t.text for t in root.iter(ns + 'text') if t.text and 'title' in t.text][0])
            """, [dir + "/scatter.svg"])
        let lines = out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let box = lines[0].compactMap(Double.init)
        #expect(box == [panel.box.x, panel.box.y, panel.box.width, panel.box.height])
        let circles = lines.filter { $0.first?.hasPrefix("#") == true }
        #expect(circles.count == x.count)
        // every point: its label's colour and the pixel position of a linear map from the axis range to the box
        var expected: [(String, Double, Double)] = []
        for label in Set(labels).sorted() {
            for i in x.indices where labels[i] == label {
                expected.append((SVG.palette[label], box[0] + (x[i] - panel.x.lower) / (panel.x.upper - panel.x.lower) * box[2],
                                 box[1] + (panel.y.upper - y[i]) / (panel.y.upper - panel.y.lower) * box[3]))
            }
        }
        for (circle, e) in zip(circles, expected) {
            #expect(circle[0] == e.0)
            #expect(abs(Double(circle[1])! - e.1) < 0.01 && abs(Double(circle[2])! - e.2) < 0.01, "\(circle) vs \(e)")
        }
        #expect(lines.contains(["legend", "3"]))
        #expect(out.contains("title a <title> & more"))  // escaped in the file, parsed back to the text
    }

    @Test func histogramsAndCurvesHaveAPanelPerUnitAndAPathPerSeries() throws {
        let dir = try temporaryDirectory("svg-plots")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let units = (0..<7).map { u in (0..<200).map { Double(($0 * (u + 3)) % 17) / 17 } }
        try Plots.histograms(units, names: (0..<7).map { "unit \($0 + 1)" }, title: "codes").write(to: dir + "/h.svg")
        try Plots.curves([("Loss", "nats", [Plots.Series(name: "loss", x: [1, 2, 3], y: [200, 150, 140]),
                                            Plots.Series(name: "reconstruction", x: [1, 2, 3], y: [180, 130, 118])]),
                          ("KL", "nats", [Plots.Series(name: "KL", x: [1, 2, 3], y: [20, 20, 22])])], xLabel: "epoch").write(to: dir + "/c.svg")
        let out = try runPython("""
            import sys, xml.etree.ElementTree as ET
            ns = '{http://www.w3.org/2000/svg}'
            for f in sys.argv[1:]:
                root = ET.parse(f).getroot()
                boxes = [r for r in root.iter(ns + 'rect') if r.get('class') == 'plot-box']
                bars = [p for p in root.iter(ns + 'path') if p.get('class') == 'bars']
                curves = [p for p in root.iter(ns + 'path') if p.get('class') == 'curve']
                inside = all(float(b.get('y')) <= float(c.get('cy')) <= float(b.get('y')) + float(b.get('height'))
                             for b in boxes[:1] for c in root.iter(ns + 'circle'))
                print(len(boxes), len(bars), len(curves), sum(p.get('d').count('Z') for p in bars), inside)
            """, [dir + "/h.svg", dir + "/c.svg"])
        let lines = out.split(separator: "\n").map(String.init)
        // 7 units with 17 distinct values each spread over 30 bins: 17 non-empty bars per unit
        #expect(lines == ["7 7 0 119 True", "2 0 3 0 True"], "\(out)")
    }

    @Test func axesUseNiceTicksCoveringTheData() {
        let a = Axis(minimum: 0.13, maximum: 9.7)
        #expect(a.lower == 0 && a.upper == 10 && a.step == 2 && a.ticks == [0, 2, 4, 6, 8, 10])
        let b = Axis(minimum: -0.031, maximum: 0.048, tickCount: 4)
        #expect(b.step == 0.02 && abs(b.lower + 0.04) < 1e-12 && abs(b.upper - 0.06) < 1e-12 && b.label(0.02) == "0.02")
        let flat = Axis(minimum: 3, maximum: 3)
        #expect(flat.lower < 3 && flat.upper > 3)
    }

    /// `clusters` Gaussian blobs of `perCluster` points in `dimensions` dimensions, centres 10 apart, spread 1.
    static func blobs(clusters: Int, perCluster: Int, dimensions: Int, seed: UInt64) -> ([Float], [Int]) {
        var random = TestRandom(seed: seed)
        var data: [Float] = [], labels: [Int] = []
        for p in 0..<(clusters * perCluster) {
            let c = p % clusters
            for d in 0..<dimensions {
                let u = max(random.next(), 1e-12), v = random.next()
                let normal = (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v)
                data.append(Float((d % clusters == c ? 10.0 : 0) + normal))
            }
            labels.append(c)
        }
        return (data, labels)
    }

    static func nearestNeighbourAgreement(_ y: [Double], _ labels: [Int]) -> Double {
        let n = labels.count
        var agree = 0
        for i in 0..<n {
            var best = Double.infinity, bestLabel = -1
            for j in 0..<n where j != i {
                let d = (y[2 * i] - y[2 * j]) * (y[2 * i] - y[2 * j]) + (y[2 * i + 1] - y[2 * j + 1]) * (y[2 * i + 1] - y[2 * j + 1])
                if d < best { best = d; bestLabel = labels[j] }
            }
            if bestLabel == labels[i] { agree += 1 }
        }
        return Double(agree) / Double(n)
    }

    @Test(arguments: [12, 64])  // 64 dimensions also takes the PCA path (more than 50)
    func tsneKeepsSeparatedClustersApartAndIsDeterministic(dimensions: Int) throws {
        let (data, labels) = Self.blobs(clusters: 4, perCluster: 75, dimensions: dimensions, seed: 7)
        var tsne = TSNE()
        tsne.iterations = 500
        tsne.seed = 3
        let first = try tsne.embed(data, count: labels.count, dimensions: dimensions)
        #expect(first.count == 2 * labels.count && first.allSatisfy(\.isFinite))
        let agreement = Self.nearestNeighbourAgreement(first, labels)
        #expect(agreement >= 0.95, "1-NN label agreement \(agreement)")
        // clusters apart: each cluster's centroid is farther from the others' than its points' mean spread
        let centroids = (0..<4).map { c -> (Double, Double) in
            let members = labels.indices.filter { labels[$0] == c }
            return (members.map { first[2 * $0] }.reduce(0, +) / Double(members.count), members.map { first[2 * $0 + 1] }.reduce(0, +) / Double(members.count))
        }
        let spread = labels.indices.map { i in hypot(first[2 * i] - centroids[labels[i]].0, first[2 * i + 1] - centroids[labels[i]].1) }.reduce(0, +) / Double(labels.count)
        for a in 0..<4 { for b in (a + 1)..<4 { #expect(hypot(centroids[a].0 - centroids[b].0, centroids[a].1 - centroids[b].1) > 2 * spread) } }

        #expect(try tsne.embed(data, count: labels.count, dimensions: dimensions) == first, "same seed, same embedding")
        var threads = tsne
        threads.threads = 1
        #expect(try threads.embed(data, count: labels.count, dimensions: dimensions) == first, "independent of the thread count")
        tsne.seed = 4
        #expect(try tsne.embed(data, count: labels.count, dimensions: dimensions) != first)
    }

    @Test func principalAxesFindAPlantedSpectrum() {
        // columns with variances 16, 9, 1, 0.25, rotated by 45° in the first two coordinates' plane
        var random = TestRandom(seed: 11)
        let scales = [4.0, 3, 1, 0.5], n = 4000
        var x: [Double] = []
        for _ in 0..<n {
            let s = scales.map { $0 * (random.next() - 0.5) * 12.0.squareRoot() }  // uniform with variance scale²
            x += [(s[0] - s[1]) / 2.0.squareRoot(), (s[0] + s[1]) / 2.0.squareRoot(), s[2], s[3]]
        }
        let means = (0..<4).map { c in stride(from: c, to: x.count, by: 4).map { x[$0] }.reduce(0, +) / Double(n) }
        for i in 0..<x.count { x[i] -= means[i % 4] }
        let axes = TSNE.principalAxes(x, count: n, dimensions: 4, keep: 2)
        let first = Array(axes[0..<4]), second = Array(axes[4..<8])
        #expect(abs(abs(first[0]) - 0.5.squareRoot()) < 0.02 && abs(abs(first[1]) - 0.5.squareRoot()) < 0.02 && first[0] * first[1] > 0)
        #expect(abs(abs(second[0]) - 0.5.squareRoot()) < 0.02 && second[0] * second[1] < 0 && abs(second[2]) < 0.05)
    }

    @Test func inverseNormalCDFMatchesKnownQuantiles() {
        // from Python's statistics.NormalDist().inv_cdf (Wichura's AS 241, accurate to about 1e-16)
        let known: [(Double, Double)] = [(0.5, 0), (0.975, 1.959963984540054), (0.8413447460685429, 1.0), (0.001, -3.090232306167813),
                                         (1e-10, -6.361340902404056), (0.02425, -1.9729610513118845), (0.999999, 4.753424308817089)]
        for (p, x) in known { #expect(abs(LatentPictures.inverseNormalCDF(p) - x) < 1e-12 * max(1, abs(x)), "Φ⁻¹(\(p))") }
        #expect(LatentPictures.inverseNormalCDF(0) == -.infinity && LatentPictures.inverseNormalCDF(1) == .infinity)
    }

    @Test func latticeCoversTheSquareRowByRowFromTheTop() throws {
        let u = [0.125, 0.375, 0.625, 0.875]
        let logit = try LatentPictures.lattice(.logitNormal, side: 4)
        #expect(logit.count == 32)
        for row in 0..<4 {
            for column in 0..<4 {
                #expect(logit[2 * (row * 4 + column)] == Float(u[column]) && logit[2 * (row * 4 + column) + 1] == Float(u[3 - row]))
            }
        }
        let gaussian = try LatentPictures.lattice(.gaussian, side: 4)
        #expect(abs(gaussian[0] + 1.1503494) < 1e-6 && abs(gaussian[1] - 1.1503494) < 1e-6)  // Φ⁻¹(0.125), Φ⁻¹(0.875)
        #expect(abs(gaussian[2] + 0.3186394) < 1e-6 && abs(gaussian[31] + 1.1503494) < 1e-6)
        #expect(throws: (any Error).self) { try LatentPictures.lattice(.dirichlet, side: 4) }
    }

    @Test func interpolationRunsFromOneCodeToTheOther() throws {
        let points = try LatentPictures.interpolation(from: [0, 1], to: [1, -1], steps: 5)
        #expect(points == [0, 1, 0.25, 0.5, 0.5, 0, 0.75, -0.5, 1, -1])
    }

    /// Paper 003's correlations plot: the most and least active units by Cov_x(E_q[u|x]), and an inactive unit's pairs
    /// on one line (every point of a pair with it shares that coordinate).
    @Test func correlationsPlotShowsAnInactiveUnitAsALine() throws {
        let n = 400, nz = 5
        var codes = [Float](repeating: 0, count: n * nz)
        let noise = randomFloats(n * nz, in: -1...1, seed: 8)
        for i in 0..<n {
            codes[i * nz + 0] = 3 * noise[i * nz]        // most active
            codes[i * nz + 1] = noise[i * nz + 1]
            codes[i * nz + 2] = 0.5 * noise[i * nz + 2]
            codes[i * nz + 3] = 0.25                     // inactive: the same mean for every input
            codes[i * nz + 4] = 0.01 * noise[i * nz + 4]
        }
        let units = Plots.unitsForCorrelations(codes, dimensions: nz, most: 2, least: 2)
        #expect(units.map(\.unit) == [0, 1, 4, 3], "\(units)")
        #expect(units.last!.activity == 0)
        let svg = try Plots.correlations(codes, dimensions: nz, units: units, title: "t").text
        let groups = svg.components(separatedBy: "<g class=\"pair\" ").dropFirst()
        #expect(groups.count == 6)
        for group in groups {
            let header = group.prefix { $0 != ">" }
            let body = group.components(separatedBy: "</g>")[0]
            func coordinates(_ name: String) -> Set<String> {
                Set(body.components(separatedBy: " \(name)=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) })
            }
            let cx = coordinates("cx"), cy = coordinates("cy")
            #expect(cx.count > 0 && cy.count > 0)
            if header.contains("data-y=\"4\"") { #expect(cy.count == 1, "the inactive unit up: one height, got \(cy.count)") }
            if header.contains("data-x=\"4\"") { #expect(cx.count == 1, "the inactive unit across: one position, got \(cx.count)") }
            if !header.contains("\"4\"") { #expect(cx.count > 50 && cy.count > 50, "active pairs spread: \(header)") }
        }
    }
}
