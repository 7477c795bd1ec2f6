// What the pictures of `latentkit plots` are made of: the codes of images, decoder mean images of given latent
// points, prior samples, linear interpolations and the 2-D lattice of paper 001's Fig. 5.
//
// Every family's code is also the decoder's input space: the Gaussian's posterior mean, the logit-normal's σ(mean of
// the logit) on (0, 1), the Concrete's class probabilities (the decoder sees e^y, a point of the simplex), the
// Dirichlet's α/α₀. So a code, an interpolation between codes or a lattice point is decoded as it is.

import Foundation

public struct LatentPictures {
    public let model: VAE
    public let backend: any Backend
    /// Rows per device batch when encoding and decoding.
    public var batchSize = 1000

    public init(model: VAE, backend: any Backend) {
        self.model = model
        self.backend = backend
    }

    /// The codes of `count` images (row-major grey levels in [0, 1], not binarised): `count × decoderInputSize` (the
    /// latent's, then every continuous layer's posterior means).
    public func codes(_ images: [Float], count: Int) throws -> [Float] {
        let inputs = model.config.inputSize
        try require(images.count == count * inputs, "\(images.count) pixels for \(count) images of \(inputs)")
        let x = try Tensor(images, rows: count, cols: inputs, on: backend)
        let means = try Evaluator(model: model, backend: backend).posteriorMeans(x, batchSize: batchSize, includingLayers: true)
        // the evaluator's E_q[u|x] is the logit's mean for the logit-normal; its code is the decoder's z = σ(y)
        return model.config.latent == .logitNormal ? means.map { 1 / (1 + Foundation.exp(-$0)) } : means
    }

    /// The decoder's mean image (σ of the logits, or the Gaussian mean) of each of `count` latent points.
    public func decode(_ points: [Float], count: Int) throws -> [Float] {
        let nz = model.config.decoderInputSize
        try require(points.count == count * nz, "\(points.count) numbers for \(count) latent points of \(nz)")
        let wasTraining = model.training
        model.training = false  // batch normalisation by its running statistics
        defer { model.training = wasTraining }
        let tape = Tape(pool: BufferPool(backend: backend))
        var images: [Float] = []
        images.reserveCapacity(count * model.config.inputSize)
        for start in stride(from: 0, to: count, by: batchSize) {
            tape.reset()
            let b = min(batchSize, count - start)
            let z = try Tensor(Array(points[(start * nz)..<((start + b) * nz)]), rows: b, cols: nz, on: backend)
            let mean = try model.expectation(model.decode(model.decoderInput(simplexPoints: z, on: tape), on: tape), on: tape)
            images += try backend.download(mean.buffer, offset: 0, count: mean.count)
        }
        tape.reset()
        return images
    }

    /// `count` decoder mean images of samples of the prior (drawn with the family's own sampler, the Concrete's at
    /// its prior temperature), from the noise stream of `seed`.
    public func priorSamples(count: Int, seed: UInt32) throws -> [Float] {
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        let tape = Tape(pool: BufferPool(backend: backend))
        let nz = model.config.latentSize
        let noise = try Tensor([Float](repeating: 0, count: count * nz), rows: count, cols: nz, on: backend)
        try backend.fillRandom(model.noiseDistribution, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: seed, stream: 0x3000),
                               counter: PhiloxCounter(), probabilities: nil)
        let base = model.config.latent == .dvae
            ? try model.dvaePriorSample(count: count, uniforms: noise, seed: seed, on: tape)
            : try model.sample(model.prior(rows: count, on: backend), noise: noise, temperature: model.config.priorTemperature, on: tape).1
        model.keyOwnDraws(PhiloxKey(seed: seed, stream: 0x3001), counter: PhiloxCounter())  // the layers' noise, through their priors
        let input = try model.continuousLayersPrior(base: base, on: tape)
        let images = try model.expectation(model.decode(input, on: tape), on: tape)
        return try backend.download(images.buffer, offset: 0, count: images.count)
    }

    /// `steps` points evenly spaced on the segment from `a` to `b`, both ends included, concatenated.
    public static func interpolation(from a: [Float], to b: [Float], steps: Int) throws -> [Float] {
        try require(a.count == b.count && steps >= 2, "interpolation: \(a.count) and \(b.count) coordinates, \(steps) steps")
        return (0..<steps).flatMap { s -> [Float] in
            let t = Float(s) / Float(steps - 1)
            return zip(a, b).map { (1 - t) * $0 + t * $1 }
        }
    }

    /// The 2-D lattice of paper 001's Fig. 5: `side × side` points, row-major with the second coordinate decreasing
    /// down the rows (as on a plot) and the first increasing along them, at the quantiles u = (i + ½)/side of the
    /// unit square — mapped through the inverse normal CDF for a Gaussian latent (so the grid covers the prior by
    /// equal probability), used directly for the logit-normal, whose decoder sees z = σ(y) in (0, 1)².
    public static func lattice(_ family: LatentFamily, side: Int) throws -> [Float] {
        try require(side >= 2, "the lattice needs at least 2 points a side, got \(side)")
        let u = (0..<side).map { (Double($0) + 0.5) / Double(side) }
        let coordinate: (Double) -> Double
        switch family {
        case .gaussian: coordinate = inverseNormalCDF
        case .logitNormal: coordinate = { $0 }
        case .concrete, .dirichlet, .dvae, .softmaxGaussian:
            throw DataError("the lattice is drawn for gaussian and logit-normal latents; a \(family.rawValue) latent of size 2 "
                            + "is one simplex coordinate — see scatter.svg instead")
        }
        return (0..<side).flatMap { row in (0..<side).flatMap { column in [Float(coordinate(u[column])), Float(coordinate(u[side - 1 - row]))] } }
    }

    /// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (relative error 1.15e-9) refined by one Halley step
    /// on erfc, which brings it to double precision; the upper half by symmetry.
    public static func inverseNormalCDF(_ p: Double) -> Double {
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        // by symmetry in the lower half, where Φ(x) − p is computed without cancellation (1 − p is exact here)
        if p > 0.5 { return -inverseNormalCDF(1 - p) }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * Foundation.log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * Foundation.exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}
