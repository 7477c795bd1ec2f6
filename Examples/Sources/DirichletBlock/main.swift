// A model of one's own with LatentKit's Dirichlet building block (`Dirichlet`: the reparameterised sample, here by
// paper 000's Laplace approximation, and the analytic KL to a symmetric Dirichlet prior), the Bernoulli likelihood,
// the tape's gradients and Adam, on whatever backend the tensors live on. Here a one-hidden-layer Dirichlet VAE on
// MNIST written out step by step; the layers, loss and loop are the user's.
// Usage (repository root): swift run --package-path Examples dirichlet-block [epochs]
import LatentKit

let epochs = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 2
let backend = try Backends.make(.auto)
let images = try Dataset(.mnist, trainLimit: 5_000, testLimit: 1).train
let (d, hidden, k, batch) = (images.pixelsPerImage, 200, 10, 100)

let layers = [try Dense(name: "encoder", inputs: d, outputs: hidden, on: backend, seed: 1, stream: 1),
              try Dense(name: "alpha", inputs: hidden, outputs: k, on: backend, seed: 1, stream: 2),
              try Dense(name: "decoder", inputs: k, outputs: d, on: backend, seed: 1, stream: 3)]
let parameters = layers.flatMap(\.parameters)
let adam = try Adam(parameters: parameters, hyperparameters: AdamHyperparameters(learningRate: 1e-3), on: backend)
let tape = Tape(pool: BufferPool(backend: backend))

for epoch in 1...epochs {
    var total = 0.0
    for start in stride(from: 0, to: images.count - batch + 1, by: batch) {
        tape.reset()
        for (_, p) in parameters { tape.watch(p) }
        let pixels = images.pixels[(start * d)..<((start + batch) * d)].map { $0 > 0.5 ? Float(1) : 0 }
        let x = try Tensor(pixels, rows: batch, cols: d, on: backend)
        let h = try tape.unary(.softplus, layers[0](x, on: tape))
        let alpha = try tape.affine(tape.unary(.softplus, layers[1](h, on: tape)), alpha: 1, beta: 1e-3)  // α > 0
        let posterior = Dirichlet(concentration: alpha, on: tape)
        let z = try posterior.rsample(RandomSource(seed: 7, step: epoch * images.count + start),       // on the simplex
                                      method: .logisticNormal(.laplace))                               // or .exact
        let logLikelihood = try tape.bernoulliLogLikelihood(logits: layers[2](z, on: tape), targets: x)
        let kl = try posterior.klToSymmetric(concentration: 1)                                  // KL(Dir(α) ‖ Dir(1))
        let loss = try tape.affine(tape.sumAll(tape.binary(.sub, kl, logLikelihood)), alpha: 1 / Float(batch))
        try tape.backward(from: loss)
        try adam.update(from: tape)
        total += Double(try backend.download(loss.buffer)[0])
    }
    print("epoch \(epoch): -ELBO \(total / Double(images.count / batch)) nats per image on \(backend.name)")
}
