@_spi(Testing) import RNNKit
import Testing

/// The token input (`RecurrentLayer.callAsFunction(tokens:…)`): the same outputs, states and
/// gradients as the stack run on the looked-up embeddings (or one-hot vectors), which the
/// finite-difference checks cover, on every path of the engine: whole LSTM steps (the packed
/// kernels, each row's token bias row), the sample and unit splits, small and larger batches,
/// hidden sizes that end inside a 16-unit block, lengths down to 0, initial states. Double to 1e-10
/// (the table's products round apart from the step's), Float to 2e-5 relative. The suite runs again
/// on every kernel path the CPU has (Makefile).
@Suite struct TokenInputTests {
    struct Case: CustomStringConvertible, Sendable {
        var B: Int, T: Int, H: Int, embedded: Bool, bidirectional: Bool, split: StepSplit
        var description: String {
            "B \(B) T \(T) H \(H) \(embedded ? "embedded" : "one-hot") \(bidirectional ? "bi" : "uni") \(split)"
        }
    }

    static let cases: [Case] = [
        Case(B: 9, T: 5, H: 20, embedded: true, bidirectional: true, split: .samples),
        Case(B: 9, T: 5, H: 40, embedded: false, bidirectional: false, split: .samples),
        Case(B: 5, T: 4, H: 17, embedded: true, bidirectional: true, split: .units(cores: 2)),
        Case(B: 3, T: 6, H: 33, embedded: false, bidirectional: true, split: .automatic),
        Case(B: 34, T: 3, H: 24, embedded: true, bidirectional: false, split: .automatic),
        Case(B: 2, T: 3, H: 8, embedded: true, bidirectional: true, split: .automatic),  // 2·V > B·T: looked up
    ]

    /// Outputs, final states and every gradient (embedding, initial states, parameters) of one path,
    /// inference's output and states after them.
    static func run<S: TensorScalar>(_: S.Type, cell: RecurrentCell, _ c: Case, tokens: Bool) throws -> [Tensor<S>] {
        let (V, E, L) = (7, 5, 2)
        var g = SeededGenerator(seed: 61)
        let F = c.embedded ? E : V
        let layer = try RecurrentLayer<S>(RecurrentConfiguration(cell: cell, inputSize: F, hiddenSize: c.H, numLayers: L,
                                                                 isBidirectional: c.bidirectional), generator: &g)
        let D = c.bidirectional ? 2 : 1
        let table = try Embedding<S>(vocabularySize: V, embeddingSize: E, generator: &g), embedding = table.weight
        let ids = (0..<(c.B * c.T)).map { _ in Int(g.next() % UInt64(V - 1)) }  // V − 1 never appears
        let h0 = Variable<S>(try randomTensor([L * D, c.B, c.H], &g), requiresGrad: true)
        let c0 = Variable<S>(try randomTensor([L * D, c.B, c.H], &g), requiresGrad: true)
        let state = RecurrentState(h: h0, c: cell == .lstm ? c0 : nil)
        let lengths = (0..<c.B).map { [c.T, 0, 2, c.T, 1][$0 % 5] }
        let r: RecurrentOutput<Variable<S>>, inference: RecurrentOutput<Tensor<S>>
        if tokens {
            r = try layer(tokens: ids, batch: c.B, steps: c.T, embedding: c.embedded ? embedding : nil, initialState: state,
                          lengths: lengths, split: c.split)
            inference = try layer(tokens: ids, batch: c.B, steps: c.T, embedding: c.embedded ? embedding.value : nil,
                                  initialState: RecurrentState(h: h0.value, c: state.c?.value), lengths: lengths,
                                  split: c.split)
        } else {
            var values = [S](repeating: 0, count: c.B * c.T * F)
            for (n, id) in ids.enumerated() {
                for j in 0..<F { values[n * F + j] = c.embedded ? embedding.value.scalars[id * E + j] : (j == id ? 1 : 0) }
            }
            let x = try Tensor(shape: [c.B, c.T, F], scalars: values)
            let lookedUp = c.embedded ? try table(ids: ids, shape: [c.B, c.T]) : Variable(x)
            r = try layer(lookedUp, initialState: state, lengths: lengths, split: c.split)
            inference = try layer(x, initialState: RecurrentState(h: h0.value, c: state.c?.value), lengths: lengths,
                                  split: c.split)
        }
        var loss = try (r.output * Variable(randomTensor(r.output.shape, &g))).sum()
        loss = try loss + (r.state.h * Variable(randomTensor(r.state.h.shape, &g))).sum()
        if let cN = r.state.c { loss = try loss + (cN * Variable(randomTensor(cN.shape, &g))).sum() }
        try loss.backward()
        let checked = (c.embedded ? [embedding] : []) + [h0] + (cell == .lstm ? [c0] : []) + layer.namedParameters.map(\.variable)
        return [r.output.value, r.state.h.value] + (r.state.c.map { [$0.value] } ?? [])
            + (try checked.map { try #require($0.grad) })
            + [inference.output, inference.state.h] + (inference.state.c.map { [$0] } ?? [])
    }

    @Test(arguments: RecurrentCell.allCases)
    func tokensMatchLookedUpInputs(cell: RecurrentCell) throws {
        for c in Self.cases {
            let expected = try Self.run(Double.self, cell: cell, c, tokens: false)
            let doubles = try Self.run(Double.self, cell: cell, c, tokens: true)
            let floats = try Self.run(Float.self, cell: cell, c, tokens: true)
            #expect(doubles.count == expected.count && floats.count == expected.count)
            for (n, (want, (double, float))) in zip(expected, zip(doubles, floats)).enumerated() {
                #expect(try double.maxAbsDifference(want) <= 1e-10, "Double, \(c), value \(n)")
                let scale = max(want.scalars.map(abs).max() ?? 0, 1)
                let floatError = zip(float.scalars, want.scalars).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(float.shape == want.shape && floatError <= 2e-5 * scale, "Float, \(c), value \(n): \(floatError)")
            }
        }
    }

    /// In training with input dropout the layer looks the embeddings up (dropout needs them): the
    /// same bits as the stack run on the lookup with the same generator. Dropout between layers only
    /// draws the same masks either way.
    @Test func dropoutInTraining() throws {
        for inputDropout in [0.0, 0.3] {
            func run(tokens: Bool) throws -> [Tensor<Double>] {
                var g = SeededGenerator(seed: 5)
                let layer = try RecurrentLayer<Double>(RecurrentConfiguration(cell: .lstm, inputSize: 4, hiddenSize: 6,
                                                                              numLayers: 2, inputDropout: inputDropout,
                                                                              dropout: 0.4), generator: &g)
                let table = try Embedding<Double>(vocabularySize: 6, embeddingSize: 4, generator: &g), embedding = table.weight
                let ids = [0, 5, 2, 2, 1, 3, 4, 0, 1, 1, 2, 5]  // 2·V ≤ B·T: the table pays
                var training: SeededGenerator? = SeededGenerator(seed: 9)
                let r: RecurrentOutput<Variable<Double>>
                if tokens {
                    r = try layer(tokens: ids, batch: 2, steps: 6, embedding: embedding, training: &training)
                } else {
                    r = try layer(table(ids: ids, shape: [2, 6]), training: &training!)
                }
                try (r.output * r.output).sum().backward()
                let parameters = try layer.namedParameters.map { try #require($0.variable.grad) }
                return [r.output.value, try #require(embedding.grad)] + parameters
            }
            for (a, b) in zip(try run(tokens: true), try run(tokens: false)) {
                #expect(try a.maxAbsDifference(b) <= (inputDropout > 0 ? 0 : 1e-12), "input dropout \(inputDropout)")
            }
        }
    }

    /// The packed weights inference keeps (whole LSTM steps) follow the token table too: after the
    /// embedding changes in place, the output is that of a layer that never ran before; calls on
    /// vectors in between do not disturb the token calls' packed weights, nor these theirs.
    @Test func keptPackedWeightsFollowTheEmbedding() throws {
        let (B, T, V, E, H) = (32, 4, 9, 6, 20)
        let configuration = RecurrentConfiguration(cell: .lstm, inputSize: E, hiddenSize: H, numLayers: 2)
        var g = SeededGenerator(seed: 8), same = SeededGenerator(seed: 8)
        let layer = try RecurrentLayer<Float>(configuration, generator: &g)
        let fresh = try RecurrentLayer<Float>(configuration, generator: &same)
        var embedding: Tensor<Float> = try randomTensor([V, E], &g)
        let ids = (0..<(B * T)).map { $0 * 7 % V }, x: Tensor<Float> = try randomTensor([B, T, E], &g)
        let first = try layer(tokens: ids, batch: B, steps: T, embedding: embedding).output
        let vectors = try layer(x).output
        #expect(try layer(tokens: ids, batch: B, steps: T, embedding: embedding).output == first)
        embedding.withUnsafeMutableBufferPointer { e in e[3] += 0.5 }
        let changed = try layer(tokens: ids, batch: B, steps: T, embedding: embedding).output
        #expect(changed != first)
        #expect(changed == (try fresh(tokens: ids, batch: B, steps: T, embedding: embedding).output))
        #expect(try layer(x).output == vectors)
    }

    /// The table is made where its V rows are at most half the B·T rows of the products it replaces.
    @Test func tableOnlyWhereItPays() {
        #expect(RecurrentLayer<Float>.tablePays(tokens: 100, batch: 64, steps: 100))  // the char model
        #expect(RecurrentLayer<Float>.tablePays(tokens: 7, batch: 2, steps: 7))
        #expect(!RecurrentLayer<Float>.tablePays(tokens: 8, batch: 2, steps: 7))
        #expect(!RecurrentLayer<Float>.tablePays(tokens: 2_580, batch: 32, steps: 64))  // a large vocabulary
    }

    @Test func badTokensThrow() throws {
        var g = SeededGenerator(seed: 1)
        let layer = try RecurrentLayer<Float>(RecurrentConfiguration(cell: .gru, inputSize: 3, hiddenSize: 4), generator: &g)
        let embedding: Tensor<Float> = try randomTensor([5, 3], &g)
        #expect(throws: RNNKitError.self) { try layer(tokens: [0, 1, 2], batch: 2, steps: 2, embedding: embedding) }
        #expect(throws: RNNKitError.self) { try layer(tokens: [0, 1, 5, 2], batch: 2, steps: 2, embedding: embedding) }
        #expect(throws: RNNKitError.self) { try layer(tokens: [0, 1, -1, 2], batch: 2, steps: 2, embedding: embedding) }
        #expect(throws: RNNKitError.self) { try layer(tokens: [0, 1, 3, 2], batch: 2, steps: 2, embedding: nil) }
        #expect(throws: RNNKitError.self) {
            try layer(tokens: [0, 1, 1, 2], batch: 2, steps: 2, embedding: try randomTensor([5, 4], &g) as Tensor<Float>)
        }
        #expect(throws: RNNKitError.self) { try layer(tokens: [], batch: 0, steps: 2, embedding: embedding) }
        #expect(throws: RNNKitError.self) {
            try layer(tokens: [0, 1, 1, 2], batch: 2, steps: 2, embedding: embedding, lengths: [3, 1])
        }
        _ = try layer(tokens: [0, 1, 4, 2], batch: 2, steps: 2, embedding: embedding, lengths: [2, 1])
    }
}
