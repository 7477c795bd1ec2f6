// `latentkit plots RUN_DIR`: the pictures of a trained run (PNG images, SVG plots).

import ArgumentParser
import Foundation
import LatentKit

struct PlotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plots",
        abstract: "Pictures of a trained run: reconstructions, prior samples, interpolations, the 2-D lattice, code scatter (t-SNE above 2-D), code histograms, learning curves.",
        discussion: """
            Writes reconstructions.png, samples.png, interpolations.png, lattice.png (latent size 2, gaussian or \
            logit-normal only), scatter.svg, histograms.svg, correlations.svg (paper 003: pairwise scatters of the most and least active units) and learning_curves.svg into --out (default RUN_DIR/plots). \
            Codes are computed from the test set's grey levels: the Gaussian posterior mean, σ of the logit-normal's \
            mean logit, the Concrete's class probabilities, the Dirichlet's α/α₀.
            """)

    @Argument(help: "A run directory made by latentkit train.") var runDirectory: String
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Output folder (default: RUN_DIR/plots).") var out: String?
    @Option(help: "Points of the t-SNE scatter: the first N test images (default: 10000, or the test set's size).") var tsnePoints: Int?
    @Option(help: "Seed of the prior samples and of t-SNE's initial embedding.") var seed: UInt32 = 1
    @Option(help: "Folder with the dataset's IDX files (default: the run's).") var dataDir: String?
    @Flag(help: "Require the 2-D lattice (an error unless the latent size is 2; it is drawn by default when it is).") var lattice = false
    @Option(help: "Bag-of-words runs: the vocabulary (default: the run's, from train --vocabulary).") var vocabulary: String?
    @Option(help: "Bag-of-words runs: the labels' names, one a line in label order (default: the label numbers).") var labelNames: String?

    static let latticeSide = 20
    static let reconstructionCount = 16
    static let interpolationPairs = 8
    static let interpolationSteps = 10
    static let histogramUnits = 20
    /// Gaps between tiles of the RGB grids: tiles of black-background digits need a visible border.
    static let tileBorder = RGB(70, 110, 190)

    func validate() throws {
        if let tsnePoints, tsnePoints < 2 { throw ValidationError("--tsne-points must be >= 2, got \(tsnePoints)") }
    }

    func run() throws {
        let backend = try backendOptions.make()
        let run = RunDirectory(runDirectory)
        try run.requireRun()
        let config = try RunConfig.load(from: run.config)
        let nz = config.model.latentSize, family = config.model.latent
        let drawLattice = nz == 2 && (family == .gaussian || family == .logitNormal) && config.model.continuousLayers == 0
        if lattice && nz != 2 {
            throw ToolError("--lattice needs a latent of size 2, but \(runDirectory) has \(nz): see scatter.svg (t-SNE of the codes) instead")
        }
        if lattice && !drawLattice {
            throw ToolError("--lattice is drawn for gaussian and logit-normal latents, not \(family.rawValue): see scatter.svg instead")
        }
        // a bag-of-words run's vocabulary is read and checked before any picture is written, so that a bad one leaves none
        // behind (nil: no vocabulary, or not a bag of words)
        let words: [String]? = try config.model.likelihood == .multinomial
            && (vocabulary != nil || FileManager.default.fileExists(atPath: run.vocabulary)) ? run.vocabulary(vocabulary) : nil
        if let words, words.count != config.model.inputSize {
            throw ToolError("\(vocabulary ?? run.vocabulary): the vocabulary has \(words.count) words but the model has \(config.model.inputSize) columns")
        }
        let data = try config.loadData(directory: dataDir, trainLimit: 1, testLimit: nil)
        let test = data.test
        try config.model.requireInput(test)
        let labelNameList = try labelNames.map { path in
            let names = try Topics.readVocabulary(path, what: "list of label names")
            let classes = Int(test.labels.max() ?? 0) + 1
            guard !test.isLabelled || names.count >= classes else {
                throw ToolError("\(path): \(names.count) label names, but the test labels run to \(classes - 1)")
            }
            return names
        }
        let side = test.rows
        // pictures of square images only (the data of a run on its own N x D .npy file is 1 x D)
        let drawsPictures = test.rows == test.cols && side > 1
        let (_, model) = try loadRun(runDirectory, on: backend)
        let folder = out ?? "\(runDirectory)/plots"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ToolError("cannot create output directory \(folder): \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else { throw ToolError("output directory \(folder) is not writable") }
        func path(_ name: String) -> String { "\(folder)/\(name)" }
        func wrote(_ name: String, _ what: String) { print("wrote \(path(name)): \(what)") }

        let pictures = LatentPictures(model: model, backend: backend)
        let pixelsPerImage = test.pixelsPerImage
        func images(_ flat: [Float], _ count: Int) -> [[Float]] {
            (0..<count).map { Array(flat[($0 * pixelsPerImage)..<(($0 + 1) * pixelsPerImage)]) }
        }
        let codes = try pictures.codes(test.pixels, count: test.count)
        let width = config.model.decoderInputSize  // from here on, a code's width: the latent's and every continuous layer's means
        func code(_ i: Int) -> [Float] { Array(codes[(i * width)..<((i + 1) * width)]) }

        if drawsPictures {
            // inputs over their reconstructions (the decoder's mean image at the code)
            let shown = min(Self.reconstructionCount, test.count)
            let reconstructed = try pictures.decode(Array(codes.prefix(shown * width)), count: shown)
            try PNG.writeGrid(images(Array(test.pixels.prefix(shown * pixelsPerImage)), shown) + images(reconstructed, shown), side: side,
                              columns: shown, gapColour: Self.tileBorder, to: path("reconstructions.png"))
            wrote("reconstructions.png", "\(shown) test images over their reconstructions")

            try PNG.writeGrid(images(pictures.priorSamples(count: 100, seed: seed), 100), side: side, columns: 10, to: path("samples.png"))
            wrote("samples.png", "100 samples of the prior")

            // each row: test image a, the decoded segment from its code to b's, test image b
            let pairs = min(Self.interpolationPairs, test.count / 2)
            var rows: [[Float]] = []
            for p in 0..<pairs {
                let (a, b) = (2 * p, 2 * p + 1)
                let segment = try LatentPictures.interpolation(from: code(a), to: code(b), steps: Self.interpolationSteps)
                rows += [Array(test.pixels[(a * pixelsPerImage)..<((a + 1) * pixelsPerImage)])]
                    + images(try pictures.decode(segment, count: Self.interpolationSteps), Self.interpolationSteps)
                    + [Array(test.pixels[(b * pixelsPerImage)..<((b + 1) * pixelsPerImage)])]
            }
            if pairs > 0 {
                try PNG.writeGrid(rows, side: side, columns: Self.interpolationSteps + 2, gapColour: Self.tileBorder, to: path("interpolations.png"))
                wrote("interpolations.png", "\(pairs) pairs of test images, \(Self.interpolationSteps) decoded steps between their codes")
            }

            if drawLattice {
                let n = Self.latticeSide
                let grid = try LatentPictures.lattice(family, side: n)
                try PNG.writeGrid(images(try pictures.decode(grid, count: n * n), n * n), side: side, columns: n, to: path("lattice.png"))
                wrote("lattice.png", "\(n)x\(n) decoded points of the latent square"
                      + (family == .gaussian ? " through the inverse normal CDF" : " (0, 1)², the decoder's z = σ(y)"))
            } else {
                print("note: no lattice.png: the lattice is drawn for a gaussian or logit-normal latent of size 2 (this run: \(family.rawValue), \(nz)); see scatter.svg")
            }
        } else {
            print("note: no reconstructions, samples, interpolations or lattice pictures: the data's items are \(test.rows)x\(test.cols), not square pictures")
        }

        try scatter(codes: codes, labels: test.labels.map(Int.init), nz: width, family: family, to: path("scatter.svg"))
        wrote("scatter.svg", width == 2 ? "the 2-D test codes by label" : "t-SNE of the test codes by label")

        let units = min(width, Self.histogramUnits)
        let columns = (0..<units).map { u in stride(from: u, to: codes.count, by: width).map { Double(codes[$0]) } }
        try Plots.histograms(columns, names: (0..<units).map { "unit \($0 + 1)" }, title: "Test codes per unit (\(Self.codeName(family)))")
            .write(to: path("histograms.svg"))
        wrote("histograms.svg", "histograms of \(units) of \(width) units")

        // paper 003's correlations plot: inactive units show as constant lines
        let drawn = Plots.unitsForCorrelations(codes, dimensions: width)
        if drawn.count >= 2 {
            try Plots.correlations(codes, dimensions: width, units: drawn,
                                   title: "Test codes (\(Self.codeName(family))) of the most and least active units, pairwise")
                .write(to: path("correlations.svg"))
            wrote("correlations.svg", "pairwise scatters of units \(drawn.map { String($0.unit + 1) }.joined(separator: ", ")) (most active first)")
        }

        try topicPlots(run: run, config: config, model: model, backend: backend, test: test, codes: codes, words: words,
                       labelNames: labelNameList, path: path, wrote: wrote)

        let metrics = try run.readMetrics()
        if metrics.isEmpty {
            print("note: no learning_curves.svg: \(run.metrics) has no epochs")
        } else {
            func column(_ key: String) -> [Double] { metrics.map { ($0[key] as? NSNumber)?.doubleValue ?? .nan } }
            let epochs = column("epoch")
            try Plots.curves([
                ("Loss per epoch", "nats per image", [Plots.Series(name: "−ELBO (loss)", x: epochs, y: column("loss")),
                                                      Plots.Series(name: "reconstruction", x: epochs, y: column("reconstruction"))]),
                ("KL per epoch", "nats per image", [Plots.Series(name: "KL", x: epochs, y: column("kl"))]),
            ], xLabel: "epoch").write(to: path("learning_curves.svg"))
            wrote("learning_curves.svg", "loss, reconstruction and KL over \(metrics.count) epoch\(metrics.count == 1 ? "" : "s")")
        }
    }

    /// A bag-of-words run with a linear decoder: topics.svg (each topic's top words sized by weight), topic_npmi.svg
    /// (NPMI per topic on the test documents) and, for labelled documents and a simplex latent, topic_labels.svg (the
    /// mean topic proportion per label).
    func topicPlots(run: RunDirectory, config: RunConfig, model: VAE, backend: any Backend, test: LabelledImages, codes: [Float], words: [String]?,
                    labelNames: [String]?, path: (String) -> String, wrote: (String, String) -> Void) throws {
        guard config.model.likelihood == .multinomial else { return }
        guard config.model.decoderWidths.isEmpty else {
            print("note: no topic plots: the decoder has hidden layers (topics are the weights of a linear decoder)")
            return
        }
        guard let words else {
            print("note: no topic plots: \(run.path) has no vocabulary; pass --vocabulary VOCAB.txt (or train with --vocabulary)")
            return
        }
        let report = try Topics.report(from: model, on: backend, vocabulary: words, top: 10, documents: test)
        try Plots.topicWords(report.topics, title: String(format: "Topics: top words by weight (mean NPMI %.3f, TD@25 %.2f, %d distinct)",
                                                          report.meanCoherence, report.diversity, report.distinct)).write(to: path("topics.svg"))
        wrote("topics.svg", "the top 10 words of \(report.topics.count) topics, sized by weight")
        try Plots.topicCoherence(report.topics, title: "NPMI per topic on \(test.count) test documents").write(to: path("topic_npmi.svg"))
        wrote("topic_npmi.svg", "NPMI per topic")
        guard test.isLabelled else {
            print("note: no topic_labels.svg: the documents have no labels (train with --labels and --test-labels)")
            return
        }
        guard config.model.latent.hasSimplexCodes else {
            print("note: no topic_labels.svg: a \(config.model.latent.rawValue) latent's codes are not topic proportions")
            return
        }
        let labels = test.labels.map(Int.init), classes = (labels.max() ?? 0) + 1
        var names = (0..<classes).map { "label \($0)" }
        if let given = labelNames { names = Array(given.prefix(classes)) }
        try Plots.topicLabels(proportions: codes, topics: config.model.latentSize, labels: labels, labelNames: names,
                              topicNames: report.topics.map { "\($0.unit + 1): " + $0.words.prefix(3).map(\.word).joined(separator: " ") },
                              title: "Mean topic proportion per label (\(test.count) test documents)").write(to: path("topic_labels.svg"))
        wrote("topic_labels.svg", "mean topic proportions of \(classes) labels")
    }

    static func codeName(_ family: LatentFamily) -> String {
        switch family {
        case .gaussian: return "posterior mean"
        case .logitNormal: return "σ(mean logit)"
        case .concrete: return "class probabilities"
        case .dirichlet: return "α/α₀"
        case .dvae: return "q(z = 1)"
        case .softmaxGaussian: return "softmax(mean)"
        }
    }

    /// The codes themselves for a 2-D latent, otherwise t-SNE of the first `--tsne-points` of them.
    func scatter(codes: [Float], labels: [Int], nz: Int, family: LatentFamily, to file: String) throws {
        let codeName = Self.codeName(family)
        if nz == 2 {
            let n = labels.count
            try Plots.scatter(x: (0..<n).map { Double(codes[2 * $0]) }, y: (0..<n).map { Double(codes[2 * $0 + 1]) }, labels: labels,
                              title: "Test codes (\(codeName)), \(n) images", xLabel: "z1", yLabel: "z2").document.write(to: file)
            return
        }
        let n = min(tsnePoints ?? 10_000, labels.count)
        var tsne = TSNE()
        tsne.seed = UInt64(seed)
        let started = Date()
        let embedding = try tsne.embed(Array(codes.prefix(n * nz)), count: n, dimensions: nz)
        print(String(format: "t-SNE of %d codes of %d dimensions: %.1f s", n, nz, Date().timeIntervalSince(started)))
        try Plots.scatter(x: (0..<n).map { embedding[2 * $0] }, y: (0..<n).map { embedding[2 * $0 + 1] }, labels: Array(labels.prefix(n)),
                          title: "t-SNE of the test codes (\(codeName)), \(n) images", xLabel: "t-SNE 1", yLabel: "t-SNE 2").document.write(to: file)
    }
}
