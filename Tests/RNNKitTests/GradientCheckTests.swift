import RNNKit
import Testing

/// Finite-difference checks in Double with odd, distinct sizes (B=3, T=5, F=4, H=6), so a transposed
/// matrix or a swapped axis cannot hide.
@Suite struct GradientCheckTests {
    static let tolerance = 1e-6

    @Test func dense() throws {
        var g = SeededGenerator(seed: 1)
        let layer = try Dense<Double>(inputSize: 4, outputSize: 6, generator: &g)
        let x = Variable<Double>(try randomTensor([3, 5, 4], &g), requiresGrad: true)
        let report = try checkGradients([("input", x)] + layer.namedParameters) {
            try projection(try layer(x), seed: 2)
        }
        #expect(report.checked == 3 * 5 * 4 + 6 * 4 + 6)
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
    }

    @Test func embeddingWithRepeatedIds() throws {
        var g = SeededGenerator(seed: 3)
        let layer = try Embedding<Double>(vocabularySize: 7, embeddingSize: 5, generator: &g)
        let ids = [0, 3, 3, 6, 1, 3]  // id 3 three times: its gradient sums three rows
        let report = try checkGradients(layer.namedParameters) {
            try projection(try layer(ids: ids, shape: [2, 3]), seed: 4)
        }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
        #expect(try layer.lookup(ids: ids, shape: [2, 3]) == layer(ids: ids, shape: [2, 3]).value)
    }

    @Test func elementwiseOperations() throws {
        var g = SeededGenerator(seed: 5)
        let a = Variable<Double>(try randomTensor([3, 4], &g), requiresGrad: true)
        let b = Variable<Double>(try randomTensor([3, 4], &g), requiresGrad: true)
        let report = try checkGradients([("a", a), ("b", b)]) {
            // a is used twice, so its gradient accumulates along two paths.
            try projection(try (a * b) + a, seed: 6)
        }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
    }

    /// Mean squared error: its gradient by finite differences, and its value against the sum written out.
    @Test func meanSquaredError() throws {
        var g = SeededGenerator(seed: 7)
        let p = Variable<Double>(try randomTensor([3, 2], &g), requiresGrad: true)
        let y: Tensor<Double> = try randomTensor([3, 2], &g)
        let report = try checkGradients([("predictions", p)]) { try Loss.meanSquaredError(predictions: p, targets: y) }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
        var expected = 0.0
        for i in 0..<6 { expected += (p.value.scalars[i] - y.scalars[i]) * (p.value.scalars[i] - y.scalars[i]) }
        #expect(abs(try Loss.meanSquaredError(predictions: p, targets: y).value.scalars[0] - expected / 6) < 1e-15)
        #expect(throws: RNNKitError.self) { try Loss.meanSquaredError(predictions: p, targets: Tensor<Double>(repeating: 0, shape: [2, 3])) }
    }

    /// Masked mean squared error (tagging): rows of weight 0 neither count nor get a gradient.
    @Test func maskedMeanSquaredError() throws {
        var g = SeededGenerator(seed: 8)
        let p = Variable<Double>(try randomTensor([2, 3, 2], &g), requiresGrad: true)
        let y: Tensor<Double> = try randomTensor([2, 3, 2], &g)
        let w = try Tensor<Double>(shape: [2, 3], scalars: [1, 1, 0, 1, 0, 0])
        let report = try checkGradients([("predictions", p)]) { try Loss.meanSquaredError(predictions: p, targets: y, weights: w) }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
        var expected = 0.0
        for i in 0..<12 where w.scalars[i / 2] == 1 { expected += (p.value.scalars[i] - y.scalars[i]) * (p.value.scalars[i] - y.scalars[i]) }
        let loss = try Loss.meanSquaredError(predictions: p, targets: y, weights: w)
        #expect(abs(loss.value.scalars[0] - expected / 6) < 1e-15)
        p.zeroGrad()
        try loss.backward()
        #expect(p.grad!.scalars[4] == 0 && p.grad!.scalars[5] == 0 && p.grad!.scalars[8...].allSatisfy { $0 == 0 })
        #expect(throws: RNNKitError.self) { try Loss.meanSquaredError(predictions: p, targets: y, weights: Tensor(repeating: 0, shape: [2, 3])) }
    }

    struct RecurrentCase: CustomTestStringConvertible, Sendable {
        var cell: RecurrentCell
        var numLayers: Int
        var isBidirectional: Bool
        var withState: Bool
        var withLengths: Bool
        var testDescription: String {
            "\(cell.rawValue) L=\(numLayers) \(isBidirectional ? "bi" : "uni") "
                + "\(withState ? "state" : "zero-state") \(withLengths ? "lengths" : "full")"
        }
    }

    static let recurrentCases: [RecurrentCase] = RecurrentCell.allCases.flatMap { cell in
        [1, 2].flatMap { layers in
            [false, true].flatMap { bi in
                [false, true].flatMap { state in
                    [false, true].map { lengths in
                        RecurrentCase(cell: cell, numLayers: layers, isBidirectional: bi, withState: state, withLengths: lengths)
                    }
                }
            }
        }
    }

    /// Gradients of a loss that reads every output step and both final states, with respect to the
    /// input, the initial states and every parameter.
    @Test(arguments: recurrentCases)
    func recurrent(_ c: RecurrentCase) throws {
        let (B, T, F, H) = (3, 5, 4, 6)
        var g = SeededGenerator(seed: 7)
        let config = RecurrentConfiguration(cell: c.cell, inputSize: F, hiddenSize: H, numLayers: c.numLayers,
                                            isBidirectional: c.isBidirectional,
                                            forgetBias: c.cell == .lstm ? 1.0 : 0)
        let layer = try RecurrentLayer<Double>(config, generator: &g)
        let x = Variable<Double>(try randomTensor([B, T, F], &g), requiresGrad: true)
        let stateShape = [c.numLayers * config.numDirections, B, H]
        let h0 = Variable<Double>(try randomTensor(stateShape, &g, low: -0.5, high: 0.5), requiresGrad: true)
        let c0 = Variable<Double>(try randomTensor(stateShape, &g, low: -0.5, high: 0.5), requiresGrad: true)
        let state = c.withState ? RecurrentState(h: h0, c: c.cell == .lstm ? c0 : nil) : nil
        let lengths = c.withLengths ? [T, 1, 3] : nil  // a full length, a length of 1, one in between

        var checked: [(name: String, variable: Variable<Double>)] = [("input", x)]
        if c.withState { checked.append(("h0", h0)) }
        if c.withState && c.cell == .lstm { checked.append(("c0", c0)) }
        checked += layer.namedParameters

        // ReLU has a kink at 0: a smaller step keeps the stencil on one side of it.
        let report = try checkGradients(checked, step: c.cell == .rnnRelu ? 1e-5 : 1e-3) {
            let r = try layer(x, initialState: state, lengths: lengths)
            var loss = try (try projection(r.output, seed: 8)) + (try projection(r.state.h, seed: 9))
            if let cN = r.state.c { loss = try loss + (try projection(cN, seed: 10)) }
            return loss
        }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")

        if c.withLengths {
            // No gradient flows into padding: steps at or past a sample's length get exactly zero.
            let dx = try #require(x.grad)
            for (b, n) in [T, 1, 3].enumerated() {
                for t in n..<T {
                    for f in 0..<F { #expect(dx[b, t, f] == 0) }
                }
            }
        }
    }

    /// The token input (the first layer reads each token's row of E · W_ihᵀ, or column of W_ih for
    /// one-hot vectors): gradients with respect to the embedding, the initial states and every
    /// parameter, every cell, two layers, both directions, with lengths, ids repeated and a token
    /// never used (whose embedding row gets zero).
    @Test(arguments: [(RecurrentCell.lstm, true), (.lstm, false), (.gru, true), (.gru, false), (.rnnTanh, true)])
    func recurrentTokens(cell: RecurrentCell, embedded: Bool) throws {
        let (B, T, V, E, H) = (3, 5, 7, 4, 6)
        var g = SeededGenerator(seed: 23)
        let F = embedded ? E : V
        let layer = try RecurrentLayer<Double>(RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: H, numLayers: 2,
                                                                      isBidirectional: true), generator: &g)
        let embedding = Variable<Double>(try randomTensor([V, E], &g), requiresGrad: true)
        let ids = (0..<(B * T)).map { [0, 3, 5, 3, 1, 2, 0, 4, 5][$0 % 9] }  // 6 never appears
        let h0 = Variable<Double>(try randomTensor([4, B, H], &g, low: -0.5, high: 0.5), requiresGrad: true)
        let c0 = Variable<Double>(try randomTensor([4, B, H], &g, low: -0.5, high: 0.5), requiresGrad: true)
        let state = RecurrentState(h: h0, c: cell == .lstm ? c0 : nil)
        let checked = (embedded ? [("embedding", embedding)] : []) + [("h0", h0)] + (cell == .lstm ? [("c0", c0)] : [])
            + layer.namedParameters
        var none: SeededGenerator? = nil
        let report = try checkGradients(checked) {
            let r = try layer(tokens: ids, batch: B, steps: T, embedding: embedded ? embedding : nil, initialState: state,
                              lengths: [T, 1, 3], training: &none)
            var loss = try (try projection(r.output, seed: 24)) + (try projection(r.state.h, seed: 25))
            if let cN = r.state.c { loss = try loss + (try projection(cN, seed: 26)) }
            return loss
        }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
        if embedded { for j in 0..<E { #expect(try #require(embedding.grad)[6, j] == 0) } }
    }

    /// Bidirectional stacks that sum the last layer's directions (Keras `merge_mode="sum"`).
    @Test(arguments: [RecurrentCell.lstm, .gru])
    func bidirectionalSum(cell: RecurrentCell) throws {
        var g = SeededGenerator(seed: 15)
        let config = RecurrentConfiguration(cell: cell, inputSize: 4, hiddenSize: 6, numLayers: 2, isBidirectional: true,
                                            merge: .sum)
        let layer = try RecurrentLayer<Double>(config, generator: &g)
        let x = Variable<Double>(try randomTensor([3, 5, 4], &g), requiresGrad: true)
        let report = try checkGradients([("input", x)] + layer.namedParameters) {
            let r = try layer(x, lengths: [5, 1, 3])
            return try (try projection(r.output, seed: 16)) + (try projection(r.state.h, seed: 17))
        }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
    }

    /// Dropout in training mode is part of the function: with the generator replayed for every
    /// evaluation the masks stay fixed, and the gradient must still match.
    @Test(arguments: [false, true])
    func recurrentWithDropout(variational: Bool) throws {
        var g = SeededGenerator(seed: 11)
        let config = RecurrentConfiguration(cell: .lstm, inputSize: 4, hiddenSize: 6, numLayers: 2, isBidirectional: true,
                                            inputDropout: 0.3, dropout: 0.4, outputDropout: 0.2,
                                            variationalDropout: variational)
        let layer = try RecurrentLayer<Double>(config, generator: &g)
        let x = Variable<Double>(try randomTensor([3, 5, 4], &g), requiresGrad: true)
        let report = try checkGradients([("input", x)] + layer.namedParameters) {
            var masks = SeededGenerator(seed: 12)
            let r = try layer(x, lengths: [5, 2, 4], training: &masks)
            return try (try projection(r.output, seed: 13)) + (try projection(r.state.h, seed: 14))
        }
        #expect(report.worstRelativeError < Self.tolerance, "\(report)")
    }
}
