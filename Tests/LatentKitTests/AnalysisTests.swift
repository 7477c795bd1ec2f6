// The latent-space analysis: the smallest-per-row op against a host sort on every backend, k-NN through the
// device GEMM against brute force, logistic regression against scipy, LDA, PCA and unit activity against cases
// with known answers, the Hellinger distance, and the .npy writer read back by numpy.

import Foundation
import LatentKit
import Testing
import TestSupport

/// The host reference of smallestPerRow: each row's column indices sorted by (NaN last, value, column).
func referenceSmallest(_ xs: [Float], rows: Int, cols: Int, k: Int) -> [Int32] {
    (0..<rows).flatMap { r -> [Int32] in
        let order = (0..<cols).sorted { a, b in
            let x = xs[r * cols + a], y = xs[r * cols + b]
            if x.isNaN != y.isNaN { return y.isNaN }
            if !x.isNaN && x != y { return x < y }
            return a < b
        }
        return order.prefix(k).map { Int32($0) }
    }
}

/// Codes from a flat list of values.
func codes(_ values: [Float], size: Int, labels: [Int32]) throws -> LatentCodes {
    try LatentCodes(count: labels.count, size: size, values: values, labels: labels)
}

/// `perClass` points around each of `centres` (rows of `size` values), uniform noise of half-width `spread`.
func clusters(_ centres: [[Float]], perClass: Int, spread: Double, seed: UInt64) throws -> LatentCodes {
    var rng = TestRandom(seed: seed)
    var values: [Float] = [], labels: [Int32] = []
    for _ in 0..<perClass {
        for (label, centre) in centres.enumerated() {
            values += centre.map { $0 + Float(spread * (2 * rng.next() - 1)) }
            labels.append(Int32(label))
        }
    }
    return try codes(values, size: centres[0].count, labels: labels)
}

@Suite struct AnalysisTests {
    // MARK: smallest per row

    /// (rows, cols, k): k = 1, k = cols, one pass (k <= 16 on OpenCL), several passes, rows longer than a work-group.
    static let selections = [(1, 1, 1), (5, 7, 7), (3, 7, 1), (6, 300, 10), (4, 300, 300), (9, 5000, 17), (2, 70_000, 10), (3, 1000, 40)]

    @Test(arguments: TestBackends.all)
    func smallestPerRowMatchesAHostSort(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        for (rows, cols, k) in Self.selections {
            // few distinct values, so most rows hold many ties; NaN, infinities and both zeros mixed in
            var xs = randomFloats(rows * cols, in: 0...8, seed: UInt64(rows * cols + k)).map { Float(Int($0)) - 4 }
            for i in stride(from: 3, to: xs.count, by: 11) { xs[i] = [Float.nan, -.infinity, .infinity, -0.0, 0.0][i % 5] }
            let x = try backend.buffer(xs)
            let values = try backend.allocate(count: rows * k, dtype: .float32), indices = try backend.allocate(count: rows * k, dtype: .int32)
            try backend.smallestPerRow(x, rows: rows, cols: cols, k: k, intoValues: values, intoIndices: indices)
            let want = referenceSmallest(xs, rows: rows, cols: cols, k: k)
            let got = try backend.downloadInt32(indices, offset: 0, count: rows * k)
            #expect(got == want, "\(kind) \(rows)x\(cols) k=\(k): first difference at \(got.indices.first { got[$0] != want[$0] } ?? -1)")
            let gotValues = try backend.download(values)
            let wantValues = (0..<(rows * k)).map { xs[(($0 / k) * cols) + Int(want[$0])] }
            #expect(zip(gotValues, wantValues).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(kind) \(rows)x\(cols) k=\(k) values")
        }
    }

    @Test(arguments: TestBackends.all)
    func smallestPerRowRejectsBadArguments(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let x = try backend.buffer([Float](repeating: 1, count: 12))
        let values = try backend.allocate(count: 12, dtype: .float32), indices = try backend.allocate(count: 12, dtype: .int32)
        for k in [0, 5] {
            #expect(throws: BackendError.self) { try backend.smallestPerRow(x, rows: 3, cols: 4, k: k, intoValues: values, intoIndices: indices) }
        }
        #expect(throws: BackendError.self) { try backend.smallestPerRow(x, rows: 3, cols: 4, k: 2, intoValues: values, intoIndices: values) }
        #expect(throws: BackendError.self) { try backend.smallestPerRow(x, rows: 4, cols: 4, k: 2, intoValues: values, intoIndices: indices) }
    }

    // MARK: k nearest neighbours

    @Test(arguments: TestBackends.all, [Distance.euclidean, .hellinger])
    func nearestNeighboursMatchBruteForce(kind: BackendKind, distance: Distance) throws {
        let backend = try TestBackends.backend(kind)
        let d = 6, n = 900, m = 130, k = 10
        var train = randomFloats(n * d, in: 0.01...1, seed: 11), test = randomFloats(m * d, in: 0.01...1, seed: 12)
        if distance == .hellinger {  // rows on the simplex
            for rows in [n, m] {
                for r in 0..<rows {
                    let s = (0..<d).reduce(Float(0)) { $0 + (rows == n ? train : test)[r * d + $1] }
                    for j in 0..<d { if rows == n { train[r * d + j] /= s } else { test[r * d + j] /= s } }
                }
            }
        }
        let labels = (0..<n).map { Int32($0 % 10) }
        var search = NearestNeighbours(backend: backend)
        search.blockElements = 50 * n  // several blocks of query rows, the last one partial
        let got = try search.search(query: codes(test, size: d, labels: [Int32](repeating: 0, count: m)),
                                    reference: codes(train, size: d, labels: labels), k: k, distance: distance)
        func dist(_ i: Int, _ j: Int) -> Double {
            (0..<d).reduce(0.0) {
                let a = Double(test[i * d + $1]), b = Double(train[j * d + $1])
                let diff = distance == .euclidean ? a - b : a.squareRoot() - b.squareRoot()
                return $0 + diff * diff
            }
        }
        for i in 0..<m {
            let exact = (0..<n).sorted { dist(i, $0) < dist(i, $1) }
            let row = got[(i * k)..<((i + 1) * k)].map(Int.init)
            // float32 distances may swap neighbours whose float64 distances differ by less than their rounding
            for (e, j) in row.enumerated() {
                #expect(abs(dist(i, j) - dist(i, exact[e])) <= 1e-5, "\(kind) \(distance) query \(i) neighbour \(e): \(j) vs \(exact[e])")
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func nearestNeighbourVotesHaveKnownAnswers(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        // 1-D training points and labels; queries and their k = 1, 2, 3 votes worked out by hand
        let train = try codes([0, 1, 2, 10, 11, 12.5, 20], size: 1, labels: [0, 0, 1, 1, 2, 2, 3])
        let test = try codes([0.2, 1.6, 10.9, 19, 11.6], size: 1, labels: [0, 1, 2, 3, 2])
        let nearest = try NearestNeighbours(backend: backend).search(query: test, reference: train, k: 3, distance: .euclidean)
        #expect(nearest == [0, 1, 2, /**/ 2, 1, 0, /**/ 4, 3, 5, /**/ 6, 5, 4, /**/ 4, 5, 3])
        // k = 2, query 1.6: neighbours 2 (label 1) and 1 (label 0) tie, the nearest one's label wins
        #expect(NearestNeighbours.vote(nearest, width: 3, k: 1, labels: train.labels) == [0, 1, 2, 3, 2])
        #expect(NearestNeighbours.vote(nearest, width: 3, k: 2, labels: train.labels) == [0, 1, 2, 3, 2])
        #expect(NearestNeighbours.vote(nearest, width: 3, k: 3, labels: train.labels) == [0, 0, 2, 2, 2])
        #expect(classificationError([0, 0, 2, 2, 2], test.labels) == 0.4)
    }

    @Test(arguments: TestBackends.all)
    func separableClustersAreClassifiedWithoutError(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let centres: [[Float]] = [[0, 0, 0, 0, 0], [3, 0, 0, 0, 1], [0, 3, 0, 1, 0], [0, 0, 3, 0, 0]]
        let train = try clusters(centres, perClass: 60, spread: 0.8, seed: 1), test = try clusters(centres, perClass: 25, spread: 0.8, seed: 2)
        let analysis = try LatentAnalysis(family: .gaussian, train: train, test: test, backend: backend)
        #expect(analysis.knnErrors == [2: 0, 5: 0, 10: 0])
        #expect(analysis.logisticRegressionError == 0 && analysis.ldaError == 0)
        #expect(analysis.distance == .euclidean)
        // a test code near the wrong centre is counted: 1 of 100
        var moved = test.values
        for j in 0..<5 { moved[j] = centres[1][j] }
        let wrong = try LatentAnalysis(family: .gaussian, train: train, test: codes(moved, size: 5, labels: test.labels), backend: backend)
        #expect(wrong.knnErrors == [2: 0.01, 5: 0.01, 10: 0.01] && wrong.logisticRegressionError == 0.01 && wrong.ldaError == 0.01)
        #expect(throws: DataError.self) { try LatentAnalysis(family: .gaussian, train: train.prefix(9), test: test, backend: backend) }
    }

    @Test(arguments: TestBackends.all)
    func hellingerDistanceValues(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        // (p, q, H(p, q) = sqrt(1 - Σ sqrt(p q))) worked out by hand
        let cases: [([Float], [Float], Double)] = [
            ([0.2, 0.3, 0.5], [0.2, 0.3, 0.5], 0), ([1, 0, 0], [0, 0, 1], 1), ([1, 0, 0], [0.5, 0.5, 0], (1 - 0.5.squareRoot()).squareRoot()),
            ([0.25, 0.25, 0.5], [0.5, 0.25, 0.25], (1 - 2 * 0.125.squareRoot() - 0.25).squareRoot()),
        ]
        for (p, q, h) in cases {
            #expect(abs(Distance.hellinger.value(p, q) - h) < 1e-6, "H(\(p), \(q))")
            // the device search ranks by the squared Euclidean distance of the square roots, 2 H²
            let (_, squared) = try NearestNeighbours(backend: backend).searchWithDistances(
                query: codes(p, size: 3, labels: [0]), reference: codes(q, size: 3, labels: [0]), k: 1, distance: .hellinger)
            #expect(abs(Double(squared[0]) - 2 * h * h) < 1e-6, "\(kind) 2H² of \(p), \(q): \(squared[0])")
        }
    }

    // MARK: linear classifiers

    @Test func logisticRegressionMatchesScipy() throws {
        let data = try readTable(testDataPath("logistic_regression_data.tsv"))
        let reference = try readTable(testDataPath("logistic_regression_weights.tsv"))
        let train = try codes(data.flatMap { [Float($0[0]), Float($0[1])] }, size: 2, labels: data.map { Int32($0[2]) })
        let model = try LogisticRegression(train: train, l2: 1e-4, tolerance: 1e-9)
        #expect(model.finalGradientNorm < 1e-9 && model.iterations > 5)
        // biases are defined up to a common shift (unpenalised): compare them centred
        func centredBiases(_ b: [Double]) -> [Double] { b.map { $0 - b.reduce(0, +) / 3 } }
        let ours = (0..<3).map { Array(model.weights[($0 * 3)..<($0 * 3 + 3)]) }
        for c in 0..<3 {
            for j in 0..<2 { #expect(abs(ours[c][j] - reference[c][j]) < 1e-6, "class \(c) weight \(j): \(ours[c][j]) vs \(reference[c][j])") }
            #expect(abs(centredBiases(ours.map { $0[2] })[c] - centredBiases(reference.prefix(3).map { $0[2] })[c]) < 1e-6)
        }
    }

    @Test func ldaPutsTheBoundaryWhereTheoryDoes() throws {
        // class 0: six points at 0 ± 1, class 1: two at 4 ± 1. Pooled variance s² = 8 / (8 - 2), priors 3/4 and 1/4:
        // the boundary is at (0 + 4)/2 + s² log(3) / 4 = 2 + log(3) / 3.
        let train = try codes([-1, 1, -1, 1, -1, 1, 3, 5], size: 1, labels: [0, 0, 0, 0, 0, 0, 1, 1])
        let boundary = Float(2 + Foundation.log(3.0) / 3)
        let test = try codes([boundary - 0.002, boundary + 0.002, -10, 10], size: 1, labels: [0, 1, 0, 1])
        #expect(try LinearDiscriminant(train: train).predict(test) == [0, 1, 0, 1])
        // simplex codes: the covariance is singular (coordinates sum to one), the ridge keeps it solvable
        let simplex = try codes([0.7, 0.3, 0.8, 0.2, 0.75, 0.25, 0.2, 0.8, 0.3, 0.7, 0.25, 0.75], size: 2, labels: [0, 0, 0, 1, 1, 1])
        #expect(try LinearDiscriminant(train: simplex).predict(codes([0.9, 0.1, 0.1, 0.9], size: 2, labels: [0, 1])) == [0, 1])
    }

    // MARK: unsupervised statistics

    @Test func pcaRecoversAKnownSpectrum() throws {
        // the 2d points ±s_i u_i for orthonormal u_i (a Householder reflection of the axes): mean 0, covariance
        // Σ 2 s_i² u_i u_iᵀ / (2d - 1), so the eigenvalues are 2 s_i² / (2d - 1)
        let d = 5, scales: [Double] = [3, 2, 1, 0.5, 0.1]
        let v = [1.0, -2, 0.5, 1, 3], vv = v.reduce(0) { $0 + $1 * $1 }
        var values: [Float] = []
        for i in 0..<d {
            let u = (0..<d).map { j in (i == j ? 1 : 0) - 2 * v[i] * v[j] / vv }
            for sign in [1.0, -1.0] { values += u.map { Float(sign * scales[i] * $0) } }
        }
        let pca = PCAResult(try codes(values, size: d, labels: [Int32](repeating: 0, count: 2 * d)))
        let want = scales.map { 2 * $0 * $0 / Double(2 * d - 1) }
        for (got, w) in zip(pca.explainedVariance, want) { #expect(abs(got - w) < 1e-5 * want[0], "\(got) vs \(w)") }
        let total = want.reduce(0, +)
        #expect(abs(pca.explainedVarianceRatio[0] - want[0] / total) < 1e-6)
        // ratios ∝ 9, 4, 1, 0.25, 0.01; cumulative 0.631, 0.912, 0.982, 0.9993, 1
        #expect(pca.components(for: 0.95) == 3 && pca.components(for: 0.9) == 2 && pca.components(for: 0.6) == 1)
        #expect(pca.components(for: 0.999) == 4 && pca.components(for: 1) == 5)
    }

    @Test func activeUnitsCountPlantedVariances() throws {
        // columns: constant, variance 0.02, constant, variance 0.005, variance 1
        let n = 400
        var values: [Float] = []
        for i in 0..<n {
            let sign: Double = i % 2 == 0 ? 1 : -1  // ±a has variance a² n / (n - 1)
            values += [0.3, Float(sign * 0.02.squareRoot()), -2, Float(sign * 0.005.squareRoot()), Float(sign)]
        }
        let activity = CodeStatistics.unitActivity(try codes(values, size: 5, labels: [Int32](repeating: 0, count: n)))
        let scale = Double(n) / Double(n - 1)
        for (got, want) in zip(activity, [0, 0.02 * scale, 0, 0.005 * scale, scale]) { #expect(abs(got - want) < 1e-7) }
        #expect(activity.filter { $0 > LatentAnalysis.activityThreshold }.count == 2)
    }

    /// Two categoricals of 3 classes: the first alternates between (0.9, 0.05, 0.05) and (0.8, 0.1, 0.1), shares that
    /// vary by less than 0.01 (no unit active on the shares) while the log-ratios move by 0.27–0.54; the second is
    /// constant. On the centred log-ratios, with the expected values from clr's definition: 3 active, then 0.
    @Test func centredLogRatioActivityCountsSimplexUnitsThatMove() throws {
        let n = 200, rows: [[Double]] = [[0.9, 0.05, 0.05, 0.2, 0.3, 0.5], [0.8, 0.1, 0.1, 0.2, 0.3, 0.5]]
        let values = (0..<n).flatMap { rows[$0 % 2].map(Float.init) }
        let c = try codes(values, size: 6, labels: [Int32](repeating: 0, count: n))
        #expect(CodeStatistics.unitActivity(c).filter { $0 > LatentAnalysis.activityThreshold }.isEmpty)
        let activity = CodeStatistics.unitActivity(c, measure: .centredLogRatio, groupSize: 3)
        func clr(_ p: ArraySlice<Double>) -> [Double] {
            let logs = p.map { Foundation.log(Double(Float($0))) }
            return logs.map { $0 - logs.reduce(0, +) / 3 }
        }
        let a = clr(rows[0][0..<3]), b = clr(rows[1][0..<3]), scale = Double(n) / Double(n - 1)
        for u in 0..<3 {
            let want = (a[u] - b[u]) * (a[u] - b[u]) / 4 * scale  // ±d/2 about the mean
            #expect(abs(activity[u] - want) < 1e-6 * want, "unit \(u): \(activity[u]) vs \(want)")
        }
        #expect(activity[3...].allSatisfy { $0 < 1e-12 })
        #expect(activity.filter { $0 > LatentAnalysis.activityThreshold }.count == 3)
        // a share that underflowed to zero is read as the smallest float, not log 0
        let floor = CodeStatistics.centredLogRatio([0, 0.5, 0.5], count: 1, size: 3, groupSize: 3)
        #expect(floor.allSatisfy(\.isFinite) && floor[0] < -60)
    }

    // MARK: files

    @Test func npyFilesReadBackInNumpy() throws {
        let dir = try temporaryDirectory("npy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let floats: [Float] = [1.5, -2.25, 3e-8, 1e30, 0, -0.0, 7, 8, 9, 10, 11, 12.125]
        try NPY.encode(floats, shape: [3, 4]).write(to: URL(fileURLWithPath: dir + "/f.npy"))
        try NPY.encode([Int32]([7, -1, 0, 2_000_000_000, 3]), shape: [5]).write(to: URL(fileURLWithPath: dir + "/i.npy"))
        #expect(throws: BackendError.self) { try NPY.encode([Float](repeating: 0, count: 5), shape: [2, 3]) }
        let check = """
            import numpy as np, sys
            f = np.load(sys.argv[1] + '/f.npy'); i = np.load(sys.argv[1] + '/i.npy')
            assert f.dtype == np.dtype('<f4') and f.shape == (3, 4), (f.dtype, f.shape)
            assert i.dtype == np.dtype('<i4') and i.shape == (5,), (i.dtype, i.shape)
            want = np.array([1.5, -2.25, 3e-8, 1e30, 0, -0.0, 7, 8, 9, 10, 11, 12.125], dtype=np.float32).reshape(3, 4)
            assert f.tobytes() == want.tobytes()
            assert i.tolist() == [7, -1, 0, 2000000000, 3]
            with open(sys.argv[1] + '/f.npy', 'rb') as h:
                assert np.lib.format.read_magic(h) == (1, 0)
                assert h.seek(0, 2) == 128 + 48  # header padded to 64 bytes, then 12 floats
            print('ok')
            """
        let result = try python(check, dir)
        #expect(result.status == 0 && result.output == "ok", "\(result.output)")
    }
}

/// Runs a Python program with `argument`; its status and standard output and error, trimmed.
func python(_ program: String, _ argument: String) throws -> (status: Int32, output: String) {
    let result = try runProgram("/usr/bin/env", ["python3", "-c", program, argument])
    return (result.status, (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines))
}
