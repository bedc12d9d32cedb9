/// The recurrent cell a `RecurrentLayer` runs at every step (PyTorch's `mode`).
public enum RecurrentCell: String, Codable, Sendable, CaseIterable {
    /// `h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`, PyTorch `nn.RNN(nonlinearity="tanh")`.
    case rnnTanh = "rnn_tanh"
    /// The same with ReLU, PyTorch `nn.RNN(nonlinearity="relu")`.
    case rnnRelu = "rnn_relu"
    /// PyTorch `nn.LSTM`, gate rows stacked i, f, g, o:
    /// `i=σ(·) f=σ(· + forgetBias) g=tanh(·) o=σ(·)`, `c' = f⊙c + i⊙g`, `h' = o⊙tanh(c')`.
    case lstm
    /// PyTorch `nn.GRU`, gate rows stacked r, z, n:
    /// `n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn))`, `h' = (1−z)⊙n + z⊙h`.
    case gru

    /// Gate blocks stacked in the weight matrices: 1, 4 (LSTM) or 3 (GRU).
    public var gateCount: Int {
        switch self {
        case .rnnTanh, .rnnRelu: 1
        case .lstm: 4
        case .gru: 3
        }
    }
}

/// How a bidirectional layer combines its two directions' outputs at each step.
public enum DirectionMerge: String, Codable, Sendable, CaseIterable {
    /// `[forward, reverse]` along the features (PyTorch, Keras's default): output size 2H.
    case concat
    /// `forward + reverse` (Keras `merge_mode="sum"`): output size H.
    case sum
}

/// Everything that defines a recurrent stack's architecture; stored in checkpoints.
public struct RecurrentConfiguration: Codable, Equatable, Sendable {
    public var cell: RecurrentCell
    /// Features per step of the input, F.
    public var inputSize: Int
    /// Units per direction, H.
    public var hiddenSize: Int
    /// Stacked layers, L; layer k > 0 reads the D·H outputs of layer k − 1.
    public var numLayers: Int
    /// Whether each layer also runs from the last valid step to the first (D = 2).
    public var isBidirectional: Bool
    /// How the last layer's two directions are combined (between layers they are always concatenated,
    /// as in PyTorch).
    public var merge: DirectionMerge
    /// TF1's constant added to the LSTM forget gate's pre-activation (seeds use 1.0; PyTorch has none).
    public var forgetBias: Double
    /// Dropout rate on the input sequence (TF1 `input_keep_prob = 1 − rate`).
    public var inputDropout: Double
    /// Dropout rate between stacked layers (PyTorch's `dropout`).
    public var dropout: Double
    /// Dropout rate on the output sequence (TF1 `output_keep_prob = 1 − rate`).
    public var outputDropout: Double
    /// When true, each sample draws one mask per dropout site and reuses it at every step
    /// (variational dropout); otherwise every step draws its own.
    public var variationalDropout: Bool

    public init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int = 1,
                isBidirectional: Bool = false, merge: DirectionMerge = .concat, forgetBias: Double = 0,
                inputDropout: Double = 0, dropout: Double = 0, outputDropout: Double = 0,
                variationalDropout: Bool = false) {
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.isBidirectional = isBidirectional
        self.merge = merge
        self.forgetBias = forgetBias
        self.inputDropout = inputDropout
        self.dropout = dropout
        self.outputDropout = outputDropout
        self.variationalDropout = variationalDropout
    }

    /// Directions per layer, D.
    public var numDirections: Int { isBidirectional ? 2 : 1 }
    /// Features per step of the output: D·H when concatenating, H otherwise.
    public var outputSize: Int { isBidirectional && merge == .concat ? 2 * hiddenSize : hiddenSize }

    /// Weights and biases in the stack: `D·G·H·(I + H + 2)` for layer 0 and `D·G·H·(D·H + H + 2)`
    /// for each layer above. A `Double`, since sizes read from a file may be absurd.
    public var parameterCount: Double {
        let (G, H, D) = (Double(cell.gateCount), Double(hiddenSize), Double(numDirections))
        let above = Double(max(numLayers - 1, 0)) * D * G * H * (D * H + H + 2)
        return D * G * H * (Double(inputSize) + H + 2) + above
    }

    /// Scalars a training pass keeps per example and step: for every layer and direction the gate
    /// pre-activations and activations, the states, and their gradients (an estimate, for
    /// `MemoryBudget` checks).
    public var trainingScalarsPerStep: Double {
        Double(numLayers) * Double(numDirections) * 4 * Double(hiddenSize) * Double(cell.gateCount + 1)
    }

    /// Checks every size and rate, and that the weights fit in memory (`MemoryBudget`).
    /// - Throws: `RNNKitError.invalidValue` naming the first field out of range, or
    ///   `RNNKitError.insufficientMemory`.
    public func validate() throws(RNNKitError) {
        try requirePositive(inputSize, "inputSize")
        try requirePositive(hiddenSize, "hiddenSize")
        try requirePositive(numLayers, "numLayers")
        try requireParameterMemory(parameterCount, "a recurrent stack")
        for (name, rate) in [("inputDropout", inputDropout), ("dropout", dropout), ("outputDropout", outputDropout)] {
            guard rate >= 0 && rate < 1 else {
                throw .invalidValue(argument: name, expected: "a rate in [0, 1)", found: "\(rate)",
                                    hint: "A dropout rate is the fraction of units zeroed; TF1's keep_prob k is rate 1 − k.")
            }
        }
        guard forgetBias.isFinite else {
            throw .invalidValue(argument: "forgetBias", expected: "a finite number", found: "\(forgetBias)", hint: "TF1 uses 1.0.")
        }
        guard forgetBias == 0 || cell == .lstm else {
            throw .invalidValue(argument: "forgetBias", expected: "0 for a \(cell.rawValue) cell", found: "\(forgetBias)",
                                hint: "Only an LSTM has a forget gate.")
        }
    }
}

/// The recurrent state of a stack, PyTorch's layout: `h` is `(L·D, B, H)` with layer l, direction d
/// at index `l·D + d`; `c` (LSTM only) has the same shape.
public struct RecurrentState<Value> {
    public var h: Value
    public var c: Value?
    public init(h: Value, c: Value? = nil) {
        self.h = h
        self.c = c
    }
}

/// What a recurrent stack returns: every step's output `(B, T, outputSize)` and the final state.
public struct RecurrentOutput<Value> {
    public var output: Value
    public var state: RecurrentState<Value>
}

/// A stack of simple RNN, LSTM or GRU layers over a whole batch of sequences: PyTorch's
/// `nn.RNN` / `nn.LSTM` / `nn.GRU` with `batch_first=True`, plus TF1's forget bias, input and output
/// dropout, variational dropout, and `dynamic_rnn`'s per-sample lengths.
///
/// Shapes: input `(B, T, F)`; output `(B, T, D·H)` (or `(B, T, H)` when merging by sum);
/// states `(L·D, B, H)`. Each layer and direction is one recorded operation whose backward pass is
/// backpropagation through time.
///
/// Parameters (PyTorch names, `_reverse` for the reverse direction): `weight_ih_l{k}` `(gH, F_k)`,
/// `weight_hh_l{k}` `(gH, H)`, `bias_ih_l{k}` `(gH)`, `bias_hh_l{k}` `(gH)`, where g is the cell's
/// gate count and `F_0 = F`, `F_k = D·H`. All are initialised U(−1/√H, 1/√H), as in PyTorch.
public final class RecurrentLayer<Scalar: TensorScalar>: ParameterContainer {
    public let configuration: RecurrentConfiguration
    /// `[layer][direction]` → `[weight_ih, weight_hh, bias_ih, bias_hh]`
    private let cellParameters: [[[Variable<Scalar>]]]
    /// The LSTM's weights packed for inference, kept while they are unchanged.
    private let packedSteps = PackedStepCache()

    /// Builds a stack with PyTorch's default initialisation drawn from `generator`.
    /// - Throws: `RNNKitError.invalidValue` when the configuration is out of range.
    public init(_ configuration: RecurrentConfiguration, generator: inout SeededGenerator) throws(RNNKitError) {
        try configuration.validate()
        self.configuration = configuration
        let (H, D, gH) = (configuration.hiddenSize, configuration.numDirections,
                          configuration.cell.gateCount * configuration.hiddenSize)
        let k = 1 / Scalar(H).squareRoot()
        var layers: [[[Variable<Scalar>]]] = []
        for l in 0..<configuration.numLayers {
            let inSize = l == 0 ? configuration.inputSize : D * H
            var directions: [[Variable<Scalar>]] = []
            for _ in 0..<D {
                var params: [Variable<Scalar>] = []
                for shape in [[gH, inSize], [gH, H], [gH], [gH]] {
                    params.append(Variable(try Tensor.uniform(shape: shape, low: -k, high: k, generator: &generator),
                                           requiresGrad: true))
                }
                directions.append(params)
            }
            layers.append(directions)
        }
        cellParameters = layers
    }

    /// Shorthand for the common case; see `RecurrentConfiguration` for the rest.
    public convenience init(_ cell: RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int = 1,
                            isBidirectional: Bool = false, generator: inout SeededGenerator) throws(RNNKitError) {
        try self.init(RecurrentConfiguration(cell: cell, inputSize: inputSize, hiddenSize: hiddenSize,
                                             numLayers: numLayers, isBidirectional: isBidirectional),
                      generator: &generator)
    }

    public var namedParameters: [(name: String, variable: Variable<Scalar>)] {
        var list: [(name: String, variable: Variable<Scalar>)] = []
        for (l, directions) in cellParameters.enumerated() {
            for (d, params) in directions.enumerated() {
                let suffix = "_l\(l)" + (d == 1 ? "_reverse" : "")
                for (base, p) in zip(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], params) {
                    list.append((base + suffix, p))
                }
            }
        }
        return list
    }

    // MARK: public forward passes

    /// Runs the stack in evaluation mode (no dropout) and records it for `backward()`.
    /// - Parameters:
    ///   - input: `(B, T, F)`.
    ///   - initialState: `h` (and `c` for an LSTM) of shape `(L·D, B, H)`; zeros when nil.
    ///   - lengths: valid steps per sample, each in `0...T`; all `T` when nil.
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: RecurrentState<Variable<Scalar>>? = nil, lengths: [Int]? = nil
    ) throws(RNNKitError) -> RecurrentOutput<Variable<Scalar>> {
        var none: SeededGenerator? = nil
        return try recordedForward(input, initialState: initialState, lengths: lengths, generator: &none)
    }

    /// Runs and records the stack (evaluation mode) with each step of the forward and backward passes
    /// divided among the cores as `split` says: for the tests, which train both ways on the same numbers.
    @_spi(Testing) public func callAsFunction(
        _ input: Variable<Scalar>, initialState: RecurrentState<Variable<Scalar>>? = nil, lengths: [Int]? = nil,
        split: StepSplit
    ) throws(RNNKitError) -> RecurrentOutput<Variable<Scalar>> {
        var none: SeededGenerator? = nil
        return try recordedForward(input, initialState: initialState, lengths: lengths, generator: &none, split: split)
    }

    /// Runs the stack in training mode: dropout masks are drawn from `generator`.
    public func callAsFunction(
        _ input: Variable<Scalar>, initialState: RecurrentState<Variable<Scalar>>? = nil, lengths: [Int]? = nil,
        training generator: inout SeededGenerator
    ) throws(RNNKitError) -> RecurrentOutput<Variable<Scalar>> {
        var g: SeededGenerator? = generator
        defer { generator = g! }
        return try recordedForward(input, initialState: initialState, lengths: lengths, generator: &g)
    }

    /// Runs the stack on tensors in evaluation mode, recording nothing (inference).
    public func callAsFunction(
        _ input: Tensor<Scalar>, initialState: RecurrentState<Tensor<Scalar>>? = nil, lengths: [Int]? = nil
    ) throws(RNNKitError) -> RecurrentOutput<Tensor<Scalar>> {
        try self(input, initialState: initialState, lengths: lengths, split: .automatic)
    }

    /// Inference with each step divided among the cores as `split` says: for the tests, which run
    /// both ways on the same numbers.
    @_spi(Testing) public func callAsFunction(
        _ input: Tensor<Scalar>, initialState: RecurrentState<Tensor<Scalar>>? = nil, lengths: [Int]? = nil,
        split: StepSplit
    ) throws(RNNKitError) -> RecurrentOutput<Tensor<Scalar>> {
        let lengths = try checkInputs(input.shape, h: initialState?.h.shape, c: initialState?.c?.shape, lengths: lengths)
        var none: SeededGenerator? = nil
        let result = run(input, h0: initialState?.h, c0: initialState?.c, lengths: lengths, generator: &none, record: false,
                         split: split)
        return RecurrentOutput(output: result.output, state: RecurrentState(h: result.h, c: result.c))
    }

    /// Advances a unidirectional stack by one step, for sampling and streaming. Gives the same numbers
    /// as the sequence API, through the same kernels.
    /// - Parameters:
    ///   - input: `(B, F)`, one step of each sequence.
    ///   - state: `(L, B, H)` states from the previous step; zeros when nil.
    /// - Returns: the step's output `(B, H)` and the new state.
    /// - Throws: `RNNKitError.invalidValue` for a bidirectional stack, which needs the whole sequence.
    public func step(
        _ input: Tensor<Scalar>, state: RecurrentState<Tensor<Scalar>>? = nil
    ) throws(RNNKitError) -> RecurrentOutput<Tensor<Scalar>> {
        guard !configuration.isBidirectional else {
            throw .invalidValue(argument: "step", expected: "a unidirectional stack", found: "a bidirectional one",
                                hint: "The reverse direction reads the sequence from its end; run the whole sequence instead.")
        }
        guard input.rank == 2 else {
            throw .shapeMismatch(argument: "input", expected: "(B, \(configuration.inputSize))", found: input.shape,
                                 hint: "step takes one time step per sample; use the sequence API for (B, T, F).")
        }
        let sequence = try input.reshaped([input.shape[0], 1, input.shape[1]])
        let result = try self(sequence, initialState: state)
        return RecurrentOutput(output: try result.output.reshaped([input.shape[0], configuration.outputSize]),
                               state: result.state)
    }

    // MARK: token input

    /// Runs the stack on tokens and records it for `backward()`: the same numbers, up to rounding, as
    /// running it on the tokens' embeddings (row `id` of `embedding` for token `id`, or one-hot
    /// vectors of `inputSize` when `embedding` is nil), without multiplying them step by step. For a
    /// token, x_t · W_ihᵀ is row `id` of E · W_ihᵀ (or column `id` of W_ih), a table made once per
    /// call, so each step of the first layer multiplies h alone. Gradients reach `embedding` and
    /// W_ih as through the lookup. It looks the embeddings up and runs the stack on them instead in
    /// training with input dropout, which needs them, and where the table would cost more than it
    /// saves: its products have V rows where those it replaces have B·T, so it is made only where
    /// 2·V ≤ B·T (a character vocabulary over a batch of sequences, not a large vocabulary over a few
    /// tokens).
    /// - Parameters:
    ///   - ids: `(B, T)` token ids, row-major, each in `0..<V`.
    ///   - embedding: `(V, inputSize)`; nil reads one-hot vectors, V = `inputSize`.
    ///   - initialState: `h` (and `c` for an LSTM) of shape `(L·D, B, H)`; zeros when nil.
    ///   - lengths: valid steps per sample, each in `0...T`; all `T` when nil.
    ///   - generator: training mode (dropout masks drawn from it) when given, else evaluation mode.
    public func callAsFunction(
        tokens ids: [Int], batch: Int, steps: Int, embedding: Variable<Scalar>?,
        initialState: RecurrentState<Variable<Scalar>>? = nil, lengths: [Int]? = nil,
        training generator: inout SeededGenerator?
    ) throws(RNNKitError) -> RecurrentOutput<Variable<Scalar>> {
        try recordedTokens(ids, batch: batch, steps: steps, embedding: embedding, initialState: initialState,
                           lengths: lengths, generator: &generator, split: .automatic)
    }

    /// The token input in evaluation mode, recorded, with each step divided among the cores as
    /// `split` says: for the tests.
    @_spi(Testing) public func callAsFunction(
        tokens ids: [Int], batch: Int, steps: Int, embedding: Variable<Scalar>?,
        initialState: RecurrentState<Variable<Scalar>>? = nil, lengths: [Int]? = nil, split: StepSplit
    ) throws(RNNKitError) -> RecurrentOutput<Variable<Scalar>> {
        var none: SeededGenerator? = nil
        return try recordedTokens(ids, batch: batch, steps: steps, embedding: embedding, initialState: initialState,
                                  lengths: lengths, generator: &none, split: split)
    }

    /// Runs the stack on tokens in evaluation mode, recording nothing (inference); as the recorded
    /// token input above.
    public func callAsFunction(
        tokens ids: [Int], batch: Int, steps: Int, embedding: Tensor<Scalar>?,
        initialState: RecurrentState<Tensor<Scalar>>? = nil, lengths: [Int]? = nil
    ) throws(RNNKitError) -> RecurrentOutput<Tensor<Scalar>> {
        try self(tokens: ids, batch: batch, steps: steps, embedding: embedding, initialState: initialState,
                 lengths: lengths, split: .automatic)
    }

    /// Token inference with each step divided among the cores as `split` says: for the tests.
    @_spi(Testing) public func callAsFunction(
        tokens ids: [Int], batch: Int, steps: Int, embedding: Tensor<Scalar>?,
        initialState: RecurrentState<Tensor<Scalar>>? = nil, lengths: [Int]? = nil, split: StepSplit
    ) throws(RNNKitError) -> RecurrentOutput<Tensor<Scalar>> {
        let V = try checkTokens(ids, batch: batch, steps: steps, embedding: embedding?.shape)
        guard Self.tablePays(tokens: V, batch: batch, steps: steps) else {
            let x = embedding.map { Embedding.forward(ids: ids, shape: [batch, steps], weight: $0) }
                ?? oneHotVectors(ids, count: V, shape: [batch, steps])
            return try self(x, initialState: initialState, lengths: lengths, split: split)
        }
        let lengths = try checkInputs([batch, steps, configuration.inputSize], h: initialState?.h.shape,
                                      c: initialState?.c?.shape, lengths: lengths)
        var none: SeededGenerator? = nil
        let result = run(Tensor(unfilled: [batch, steps, 0]), h0: initialState?.h, c0: initialState?.c, lengths: lengths,
                         generator: &none, record: false, split: split,
                         tokens: stackTokens(ids, batch: batch, steps: steps, count: V, embedding: embedding))
        return RecurrentOutput(output: result.output, state: RecurrentState(h: result.h, c: result.c))
    }

    private func recordedTokens(
        _ ids: [Int], batch: Int, steps: Int, embedding: Variable<Scalar>?, initialState: RecurrentState<Variable<Scalar>>?,
        lengths: [Int]?, generator: inout SeededGenerator?, split: StepSplit
    ) throws(RNNKitError) -> RecurrentOutput<Variable<Scalar>> {
        let V = try checkTokens(ids, batch: batch, steps: steps, embedding: embedding?.shape)
        // Dropout on the embeddings themselves, or a table dearer than the products it replaces: the lookup.
        if (generator != nil && configuration.inputDropout > 0) || !Self.tablePays(tokens: V, batch: batch, steps: steps) {
            let x = embedding.map { Embedding.recordedLookup(ids: ids, shape: [batch, steps], weight: $0) }
                ?? Variable(oneHotVectors(ids, count: V, shape: [batch, steps]))
            return try recordedForward(x, initialState: initialState, lengths: lengths, generator: &generator, split: split)
        }
        let lengths = try checkInputs([batch, steps, configuration.inputSize], h: initialState?.h.shape,
                                      c: initialState?.c?.shape, lengths: lengths)
        let tokens = stackTokens(ids, batch: batch, steps: steps, count: V, embedding: embedding?.value)
        let result = run(Tensor(unfilled: [batch, steps, 0]), h0: initialState?.h.value, c0: initialState?.c?.value,
                         lengths: lengths, generator: &generator, record: true, split: split, tokens: tokens)
        let trace = result.trace!
        let stateInputs = [initialState?.h, initialState?.c].compactMap { $0 }
        let params = cellParameters.flatMap { $0.flatMap { $0 } }
        let hasH = initialState != nil, hasC = initialState?.c != nil
        let E = embedding?.value, gH = cellParameters[0][0][0].shape[0], F = configuration.inputSize
        let outputs = [result.output, result.h] + (result.c.map { [$0] } ?? [])
        let variables = TapeNode.record(inputs: (embedding.map { [$0] } ?? []) + stateInputs + params,
                                        outputs: outputs) { [self] grads in
            let g = backward(trace, dOutput: grads[0], dh: grads[1], dc: grads.count > 2 ? grads[2] : nil,
                             inputGradient: false)
            // Through the tables: dW_ih = dTableᵀ · E (or dTableᵀ), dE = Σ over directions of dTable · W_ih.
            var weights = g.weights
            var dE = E.map { Tensor<Scalar>(zeros: $0.shape) }
            for (d, dTable) in g.dTables.enumerated() {
                var dW = Tensor<Scalar>(unfilled: [gH, F])
                dTable.withUnsafeBufferPointer { dt in
                    dW.withUnsafeMutableBufferPointer { dw in
                        if let E {
                            E.withUnsafeBufferPointer { e in
                                Scalar.parallelGemm(transposeA: true, transposeB: false, m: gH, n: F, k: V, alpha: 1,
                                                    a: dt.baseAddress!, lda: gH, b: e.baseAddress!, ldb: F,
                                                    beta: 0, c: dw.baseAddress!, ldc: F)
                            }
                        } else {
                            transposeBlock(dt.baseAddress!, lda: gH, rows: V, columns: gH, into: dw.baseAddress!, ldb: V)
                        }
                    }
                    trace.tokens!.inputWeights[d].withUnsafeBufferPointer { w in
                        dE?.withUnsafeMutableBufferPointer { de in
                            Scalar.parallelGemm(transposeA: false, transposeB: false, m: V, n: F, k: gH, alpha: 1,
                                                a: dt.baseAddress!, lda: gH, b: w.baseAddress!, ldb: F,
                                                beta: 1, c: de.baseAddress!, ldc: F)
                        }
                    }
                }
                weights[4 * d] = dW
            }
            return (E != nil ? [dE] : []) + (hasH ? [g.dh0] : []) + (hasC ? [g.dc0] : []) + weights
        }
        return RecurrentOutput(output: variables[0],
                               state: RecurrentState(h: variables[1], c: variables.count > 2 ? variables[2] : nil))
    }

    /// Whether the token input's table (products of V rows) costs less than the products of B·T rows
    /// it replaces, by half at least.
    @_spi(Testing) public static func tablePays(tokens V: Int, batch: Int, steps: Int) -> Bool { 2 * V <= batch * steps }

    /// The token input's tables, one per direction of the first layer: E · W_ihᵀ (V, gH), or W_ihᵀ
    /// for one-hot vectors.
    private func stackTokens(_ ids: [Int], batch: Int, steps: Int, count V: Int, embedding E: Tensor<Scalar>?) -> StackTokens {
        var timeMajor = [Int](repeating: 0, count: ids.count)
        for b in 0..<batch { for t in 0..<steps { timeMajor[t * batch + b] = ids[b * steps + t] } }
        let F = configuration.inputSize
        let inputWeights = cellParameters[0].map { $0[0].value }
        let tables = inputWeights.map { w in
            let gH = w.shape[0]
            var table = Tensor<Scalar>(unfilled: [V, gH])
            w.withUnsafeBufferPointer { w in
                table.withUnsafeMutableBufferPointer { table in
                    if let E {
                        E.withUnsafeBufferPointer { e in
                            Scalar.parallelGemm(transposeA: false, transposeB: true, m: V, n: gH, k: F, alpha: 1,
                                                a: e.baseAddress!, lda: F, b: w.baseAddress!, ldb: F,
                                                beta: 0, c: table.baseAddress!, ldc: gH)
                        }
                    } else {
                        transposeBlock(w.baseAddress!, lda: F, rows: gH, columns: F, into: table.baseAddress!, ldb: gH)
                    }
                }
            }
            return table
        }
        return StackTokens(ids: timeMajor, count: V, tables: tables, inputWeights: inputWeights)
    }

    /// Checks a token input's ids and embedding and returns the number of tokens, V.
    private func checkTokens(_ ids: [Int], batch: Int, steps: Int, embedding: [Int]?) throws(RNNKitError) -> Int {
        let F = configuration.inputSize
        guard batch > 0, steps > 0, ids.count == batch * steps else {
            throw .shapeMismatch(argument: "ids", expected: "(\(batch), \(steps)) with both ≥ 1", found: [ids.count],
                                 hint: "Pass one id per step of every sequence, row-major (batch, steps).")
        }
        if let embedding, embedding.count != 2 || embedding[1] != F || embedding[0] < 1 {
            throw .shapeMismatch(argument: "embedding", expected: "(V, \(F))", found: embedding,
                                 hint: "The stack reads inputSize = \(F) features: an embedding of that many columns.")
        }
        let V = embedding?[0] ?? F
        if let (n, id) = ids.enumerated().first(where: { $0.element < 0 || $0.element >= V }) {
            throw .invalidValue(argument: "ids[\(n)]", expected: "an id in 0..<\(V)", found: "\(id)",
                                hint: "Ids index the embedding's rows (or the one-hot vectors' \(F) features).")
        }
        return V
    }

    // MARK: validation

    /// Checks the shapes of a call and returns the lengths to use.
    private func checkInputs(_ x: [Int], h: [Int]?, c: [Int]?, lengths: [Int]?) throws(RNNKitError) -> [Int] {
        let cfg = configuration
        guard x.count == 3, x[2] == cfg.inputSize, x[0] > 0, x[1] > 0 else {
            throw .shapeMismatch(argument: "input", expected: "(B, T, \(cfg.inputSize)) with B, T ≥ 1", found: x,
                                 hint: "Inputs are batch-first: (batch, steps, features), features = inputSize.")
        }
        let (B, T) = (x[0], x[1])
        let stateShape = [cfg.numLayers * cfg.numDirections, B, cfg.hiddenSize]
        if let h, h != stateShape {
            throw .shapeMismatch(argument: "initialState.h", expected: shapeString(stateShape), found: h,
                                 hint: "States are (numLayers·numDirections, batch, hiddenSize), as in PyTorch.")
        }
        if cfg.cell == .lstm, h != nil, c == nil {
            throw .invalidValue(argument: "initialState.c", expected: "a cell state for an LSTM", found: "nil",
                                hint: "Pass both h and c, each \(shapeString(stateShape)).")
        }
        if let c {
            guard cfg.cell == .lstm else {
                throw .invalidValue(argument: "initialState.c", expected: "nil for a \(cfg.cell.rawValue) cell",
                                    found: "a tensor", hint: "Only an LSTM has a cell state.")
            }
            guard c == stateShape else {
                throw .shapeMismatch(argument: "initialState.c", expected: shapeString(stateShape), found: c,
                                     hint: "States are (numLayers·numDirections, batch, hiddenSize), as in PyTorch.")
            }
        }
        guard let lengths else { return Array(repeating: T, count: B) }
        guard lengths.count == B else {
            throw .shapeMismatch(argument: "lengths", expected: "(\(B)), one per sample", found: [lengths.count],
                                 hint: "Give the number of valid steps of every sequence in the batch.")
        }
        if let (b, n) = lengths.enumerated().first(where: { $0.element < 0 || $0.element > T }) {
            throw .invalidValue(argument: "lengths[\(b)]", expected: "a length in 0...\(T)", found: "\(n)",
                                hint: "A length counts the valid steps at the start of a sequence padded to T = \(T).")
        }
        return lengths
    }

    // MARK: the stack, forward above backward

    /// What one forward pass of the whole stack keeps for its backward pass.
    private struct StackTrace {
        var layerInputs: [Tensor<Scalar>]    // per layer (T, B, F_l), after dropout
        var inputMasks: [Tensor<Scalar>?]    // per layer (T, B, F_l), scaled by 1/(1−p)
        var outputMask: Tensor<Scalar>?      // (B, T, outputSize)
        var weights: [[CellWeights<Scalar>]]
        var directions: [[DirectionTrace<Scalar>]]
        var lengths: [Int]
        var split: StepSplit
        var tokens: StackTokens? = nil
    }

    /// The stack's input as tokens (`callAsFunction(tokens:…)`): the first layer reads row id of
    /// each direction's table instead of multiplying x_t.
    private struct StackTokens {
        var ids: [Int]                 // (T, B), time-major
        var count: Int                 // V
        var tables: [Tensor<Scalar>]   // per direction, (V, gH): E · W_ihᵀ, or W_ihᵀ for one-hot vectors
        var inputWeights: [Tensor<Scalar>]  // per direction, W_ih (gH, F) as the tables were made from
    }

    private struct StackResult {
        var output: Tensor<Scalar>           // (B, T, outputSize)
        var h: Tensor<Scalar>                // (L·D, B, H)
        var c: Tensor<Scalar>?
        var trace: StackTrace?
    }

    private func recordedForward(
        _ input: Variable<Scalar>, initialState: RecurrentState<Variable<Scalar>>?, lengths: [Int]?,
        generator: inout SeededGenerator?, split: StepSplit = .automatic
    ) throws(RNNKitError) -> RecurrentOutput<Variable<Scalar>> {
        let lengths = try checkInputs(input.shape, h: initialState?.h.shape, c: initialState?.c?.shape, lengths: lengths)
        let result = run(input.value, h0: initialState?.h.value, c0: initialState?.c?.value, lengths: lengths,
                         generator: &generator, record: true, split: split)
        let trace = result.trace!
        let stateInputs = [initialState?.h, initialState?.c].compactMap { $0 }
        let params = cellParameters.flatMap { $0.flatMap { $0 } }
        let hasH = initialState != nil, hasC = initialState?.c != nil
        let inputGradient = input.requiresGrad  // data needs none: the first layer's dX product is skipped
        let outputs = [result.output, result.h] + (result.c.map { [$0] } ?? [])
        let variables = TapeNode.record(inputs: [input] + stateInputs + params, outputs: outputs) { [self] grads in
            let g = backward(trace, dOutput: grads[0], dh: grads[1], dc: grads.count > 2 ? grads[2] : nil,
                             inputGradient: inputGradient)
            return [g.dx] + (hasH ? [g.dh0] : []) + (hasC ? [g.dc0] : []) + g.weights
        }
        return RecurrentOutput(output: variables[0],
                               state: RecurrentState(h: variables[1], c: variables.count > 2 ? variables[2] : nil))
    }

    private func currentWeights() -> [[CellWeights<Scalar>]] {
        cellParameters.map { $0.map { p in CellWeights(wih: p[0].value, whh: p[1].value, bih: p[2].value, bhh: p[3].value) } }
    }

    /// The forward pass of the whole stack on validated inputs.
    /// With `tokens`, `input` is (B, T, 0): the first layer reads the tokens' table rows.
    /// Specialized (as `backward`): called from outside the module, the generic body copied each
    /// scalar of the zero states through a value witness, 1.9% of LSTM 128's inference time on the
    /// thread the other core then waited for; inference ran 4% faster specialized (AMD EPYC Zen 5).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func run(
        _ input: Tensor<Scalar>, h0: Tensor<Scalar>?, c0: Tensor<Scalar>?, lengths: [Int],
        generator: inout SeededGenerator?, record: Bool, split: StepSplit = .automatic, tokens: StackTokens? = nil
    ) -> StackResult {
        let cfg = configuration
        let (B, H, D, L) = (input.shape[0], cfg.hiddenSize, cfg.numDirections, cfg.numLayers)
        let isLSTM = cfg.cell == .lstm
        var weights = currentWeights()
        if tokens != nil {  // the first layer multiplies h alone
            precondition(input.shape[2] == 0 && (generator == nil || cfg.inputDropout == 0), "bad token input")
            for d in 0..<D { weights[0][d].wih = Tensor(unfilled: [weights[0][d].wih.shape[0], 0]) }
        }
        let stateCount = B * H
        var hFinal = [Scalar](), cFinal = [Scalar]()  // (L·D, B, H)
        var trace = StackTrace(layerInputs: [], inputMasks: [], outputMask: nil, weights: weights,
                               directions: [], lengths: lengths, split: split, tokens: tokens)

        var layerInput = swapLeadingAxes(input)  // (T, B, F)
        let T = layerInput.shape[0]
        var output = Tensor<Scalar>(unfilled: [0])  // the last layer's, batch-first (B, T, D·H)
        for l in 0..<L {
            let rate = l == 0 ? cfg.inputDropout : cfg.dropout
            var mask: Tensor<Scalar>? = nil
            if rate > 0, generator != nil, l > 0 || tokens == nil {
                let m: Tensor<Scalar> = dropoutMask(rate: rate, shape: layerInput.shape, variational: cfg.variationalDropout,
                                    generator: &generator!)
                layerInput = multiply(layerInput, m)
                mask = m
            }
            // Both directions write into one tensor, side by side: time-major, the next layer's input,
            // or batch-first after the last layer, the stack's output.
            let last = l == L - 1
            var layerOutput = Tensor<Scalar>(unfilled: last ? [B, T, D * H] : [T, B, D * H])
            let rows: StepRows = last ? .batchFirst(steps: T, width: D * H) : .timeMajor(batch: B, width: D * H)
            var traces: [DirectionTrace<Scalar>] = []
            let input = layerInput
            let results = layerOutput.withUnsafeMutableBufferPointer { out in
                let out = out.baseAddress!
                return eachDirection(D) { d, threads, pool in
                    let slot = l * D + d
                    let h = h0.map { Array($0.scalars[(slot * stateCount)..<((slot + 1) * stateCount)]) }
                        ?? Array(repeating: 0, count: stateCount)
                    let c = isLSTM ? (c0.map { Array($0.scalars[(slot * stateCount)..<((slot + 1) * stateCount)]) }
                        ?? Array(repeating: 0, count: stateCount)) : nil
                    // Tokens: the first layer's weights packed apart from those for vectors (slot past the stack's).
                    let layerTokens = l == 0 ? tokens.map { TokenRows(ids: $0.ids, table: $0.tables[d]) } : nil
                    return RecurrentEngine.forward(cell: cfg.cell, forgetBias: Scalar(cfg.forgetBias), reverse: d == 1,
                                                   input: input, weights: weights[l][d], h0: h, c0: c,
                                                   lengths: lengths, record: record, output: out + d * H, outputRows: rows,
                                                   threads: threads, split: split, pool: pool,
                                                   packedSteps: (packedSteps, layerTokens == nil ? slot : L * D + d,
                                                                 cellParameters[l][d].map(\.version)),
                                                   tokens: layerTokens)
                }
            }
            for r in results {
                hFinal += r.h
                if let rc = r.c { cFinal += rc }
                if let t = r.trace { traces.append(t) }
            }
            if record {
                trace.layerInputs.append(layerInput)
                trace.inputMasks.append(mask)
                trace.directions.append(traces)
            }
            if last { output = layerOutput } else { layerInput = layerOutput }
        }
        if D == 2, cfg.merge == .sum {  // forward + reverse
            let (forward, reverse) = splitFeatures(output, H)
            output = add(forward, reverse)
        }
        if cfg.outputDropout > 0, generator != nil {
            // Drawn time-major, as the layers' masks are.
            let m: Tensor<Scalar> = dropoutMask(rate: cfg.outputDropout, shape: [T, B, output.shape[2]],
                                                variational: cfg.variationalDropout, generator: &generator!)
            trace.outputMask = swapLeadingAxes(m)
            output = multiply(output, trace.outputMask!)
        }
        return StackResult(output: output,
                           h: Tensor(validShape: [L * D, B, H], scalars: hFinal),
                           c: isLSTM ? Tensor(validShape: [L * D, B, H], scalars: cFinal) : nil,
                           trace: record ? trace : nil)
    }

    /// Backpropagation through the whole stack: returns the gradients of the input `(B, T, F)` (nil
    /// unless `inputGradient`), the initial states `(L·D, B, H)` and every parameter in
    /// `namedParameters` order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    private func backward(
        _ trace: StackTrace, dOutput: Tensor<Scalar>?, dh: Tensor<Scalar>?, dc: Tensor<Scalar>?, inputGradient: Bool
    ) -> (dx: Tensor<Scalar>?, dh0: Tensor<Scalar>, dc0: Tensor<Scalar>, weights: [Tensor<Scalar>], dTables: [Tensor<Scalar>]) {
        let cfg = configuration
        let (H, D, L) = (cfg.hiddenSize, cfg.numDirections, cfg.numLayers)
        let B = trace.layerInputs[0].shape[1]
        let stateCount = B * H
        var dh0 = Tensor<Scalar>(zeros: [L * D, B, H]), dc0 = Tensor<Scalar>(zeros: [L * D, B, H])
        var weightGrads = [[Tensor<Scalar>]](repeating: [], count: L * D)

        // Gradient with respect to the layer's output, nil (zero) when the output was unused: first
        // the stack's, batch-first (B, T, outputSize), where a sum of the directions gives both the
        // same gradient; then each lower layer's, time-major (T, B, D·H). Each direction reads its
        // own H features of it in place.
        let T = trace.layerInputs[0].shape[0]
        var dLayerOutput = dOutput
        if let m = trace.outputMask, let d = dLayerOutput { dLayerOutput = multiply(d, m) }
        let summed = D == 2 && cfg.merge == .sum
        var rows: StepRows = .batchFirst(steps: T, width: summed ? H : D * H)

        var dx: Tensor<Scalar>? = nil
        var dTables = [Tensor<Scalar>]()  // token input: per direction, (V, gH)
        for l in (0..<L).reversed() {
            let x = trace.layerInputs[l]
            let needsDInput = l > 0 || (inputGradient && trace.tokens == nil)
            let tokens = l == 0 ? trace.tokens.map { (ids: $0.ids, count: $0.count) } : nil
            var dInput = Tensor<Scalar>(zeros: [0])  // the first direction's dX, plus the second's
            let shared = summed && l == L - 1  // both directions read the same H features
            let gradients = withOptionalBuffer(dLayerOutput) { dOut in
                eachDirection(D) { d, threads, pool in
                    let slot = l * D + d
                    let dhSlice = dh.map { Array($0.scalars[(slot * stateCount)..<((slot + 1) * stateCount)]) }
                    let dcSlice = dc.map { Array($0.scalars[(slot * stateCount)..<((slot + 1) * stateCount)]) }
                    return RecurrentEngine.backward(cell: cfg.cell, reverse: d == 1, input: x, weights: trace.weights[l][d],
                                                    lengths: trace.lengths, trace: trace.directions[l][d],
                                                    dOutput: dOut.map { $0 + (shared ? 0 : d * H) }, outputRows: rows,
                                                    dhFinal: dhSlice, dcFinal: dcSlice,
                                                    inputGradient: needsDInput, threads: threads, split: trace.split, pool: pool,
                                                    tokens: tokens)
                }
            }
            for (d, g) in gradients.enumerated() {
                let slot = l * D + d
                if let gx = g.dx { dInput = d == 0 ? gx : add(dInput, gx) }
                dh0.withUnsafeMutableBufferPointer { p in
                    for i in 0..<stateCount { p[slot * stateCount + i] = g.dh0[i] }
                }
                if let gc = g.dc0 {
                    dc0.withUnsafeMutableBufferPointer { p in
                        for i in 0..<stateCount { p[slot * stateCount + i] = gc[i] }
                    }
                }
                weightGrads[slot] = [g.weights.wih, g.weights.whh, g.weights.bih, g.weights.bhh]
                if let t = g.dTable { dTables.append(t) }
            }
            guard needsDInput else { break }
            if let m = trace.inputMasks[l] { dInput = multiply(dInput, m) }
            if l == 0 { dx = swapLeadingAxes(dInput) } else { (dLayerOutput, rows) = (dInput, .timeMajor(batch: B, width: D * H)) }
        }
        return (dx, dh0, dc0, weightGrads.flatMap { $0 }, dTables)
    }
}

/// One-hot vectors of `count` features for valid `ids`: a tensor of `shape + [count]`.
func oneHotVectors<S: TensorScalar>(_ ids: [Int], count: Int, shape: [Int]) -> Tensor<S> {
    var values = [S](repeating: 0, count: ids.count * count)
    for (n, id) in ids.enumerated() { values[n * count + id] = 1 }
    return Tensor(validShape: shape + [count], scalars: values)
}

/// `body(d, threads, pool)` for each of `count` directions: with two directions and at least two
/// cores, both at once, each on half the cores (each then keeps the whole batch in its products, and
/// its own W_hh in its core's cache), sharing one `StepPool`, so that the core that finishes first
/// helps with the other direction; otherwise one after the other on all of them, with no pool.
func eachDirection<R>(_ count: Int, _ body: (Int, Int, StepPool?) -> R) -> [R] {
    guard count == 2, parallelChunkLimit >= 2 else { return (0..<count).map { body($0, parallelChunkLimit, nil) } }
    let pool = StepPool()
    let slots = UnsafeMutablePointer<R?>.allocate(capacity: 2)
    slots.initialize(repeating: nil, count: 2)
    defer {
        slots.deinitialize(count: 2)
        slots.deallocate()
    }
    parallelRows(2, minimumRows: 1, threads: 2) { range, _ in
        slots[range.lowerBound] = body(range.lowerBound, parallelChunkLimit / 2, pool)
    }
    return [slots[0]!, slots[1]!]
}

// MARK: helpers on (T, B, ·) buffers

/// `(A, B, C) → (B, A, C)`: batch-first to time-major and back.
@_specialize(where S == Float)
@_specialize(where S == Double)
func swapLeadingAxes<S: TensorScalar>(_ t: Tensor<S>) -> Tensor<S> {
    let (a, b, c) = (t.shape[0], t.shape[1], t.shape[2])
    var out = Tensor<S>(unfilled: [b, a, c])
    out.withUnsafeMutableBufferPointer { dst in
        t.withUnsafeBufferPointer { src in
            for i in 0..<a {
                for j in 0..<b {
                    (dst.baseAddress! + (j * a + i) * c).update(from: src.baseAddress! + (i * b + j) * c, count: c)
                }
            }
        }
    }
    return out
}

/// `(…, H1 + H2)` → `(…, H1)` and `(…, H2)`: the first `first` features and the rest.
@_specialize(where S == Float)
@_specialize(where S == Double)
func splitFeatures<S: TensorScalar>(_ t: Tensor<S>, _ first: Int) -> (Tensor<S>, Tensor<S>) {
    let n = t.shape.last!, rows = t.count / n, rest = n - first
    var a = Tensor<S>(unfilled: Array(t.shape.dropLast()) + [first])
    var b = Tensor<S>(unfilled: Array(t.shape.dropLast()) + [rest])
    t.withUnsafeBufferPointer { src in
        a.withUnsafeMutableBufferPointer { a in
            b.withUnsafeMutableBufferPointer { b in
                for r in 0..<rows {
                    (a.baseAddress! + r * first).update(from: src.baseAddress! + r * n, count: first)
                    (b.baseAddress! + r * rest).update(from: src.baseAddress! + r * n + first, count: rest)
                }
            }
        }
    }
    return (a, b)
}

@_specialize(where S == Float)
@_specialize(where S == Double)
func add<S: TensorScalar>(_ x: Tensor<S>, _ y: Tensor<S>) -> Tensor<S> {
    elementwise(x, y) { $0 + $1 }
}

@_specialize(where S == Float)
@_specialize(where S == Double)
func multiply<S: TensorScalar>(_ x: Tensor<S>, _ y: Tensor<S>) -> Tensor<S> {
    elementwise(x, y) { $0 * $1 }
}

@_specialize(where S == Float)
@_specialize(where S == Double)
@inline(__always)
private func elementwise<S: TensorScalar>(_ x: Tensor<S>, _ y: Tensor<S>, _ f: (S, S) -> S) -> Tensor<S> {
    precondition(x.shape == y.shape)
    var out = Tensor<S>(unfilled: x.shape)
    out.withUnsafeMutableBufferPointer { o in
        x.withUnsafeBufferPointer { a in
            y.withUnsafeBufferPointer { b in
                for i in 0..<o.count { o[i] = f(a[i], b[i]) }
            }
        }
    }
    return out
}

/// An inverted-dropout mask for a `(T, B, F)` buffer: each entry 0 with probability `rate`, else
/// `1/(1 − rate)`. Variational masks draw one `(B, F)` mask and reuse it at every step, per sample
/// (not one mask for the whole batch, which is TF1's DropoutWrapper bug).
@_specialize(where S == Float)
@_specialize(where S == Double)
func dropoutMask<S: TensorScalar>(rate: Double, shape: [Int], variational: Bool,
                                  generator: inout SeededGenerator) -> Tensor<S> {
    let (T, rowSize) = (shape[0], shape[1] * shape[2])
    let keep = S(1 / (1 - rate))
    func draw() -> S { generator.nextUnit() < rate ? 0 : keep }
    var values = [S]()
    values.reserveCapacity(T * rowSize)
    if variational {
        let row = (0..<rowSize).map { _ in draw() }
        for _ in 0..<T { values += row }
    } else {
        for _ in 0..<(T * rowSize) { values.append(draw()) }
    }
    return Tensor(validShape: shape, scalars: values)
}
