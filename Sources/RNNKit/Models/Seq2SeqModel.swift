/// How the decoder reads the encoder's outputs.
public enum AttentionKind: String, Codable, Sendable, CaseIterable {
    /// Additive: `e = vᵀ tanh(W₁ h_s + W₂ h_t)` (Bahdanau et al. 2015; OpenNMT's "mlp").
    case bahdanau
    /// Luong et al. 2015's `general`: `e = h_tᵀ W_a h_s`.
    case luong
    /// No attention: the decoder sees the source only through its initial state.
    case none
}

/// The shape of an encoder–decoder model; stored in `config.json`.
public struct Seq2SeqConfiguration: Codable, Equatable, Sendable {
    public var sourceVocabulary: Int
    public var targetVocabulary: Int
    /// Embedding width of source and target tokens.
    public var embedding: Int = 64
    public var cell: RecurrentCell = .lstm
    /// Encoder units per direction; the decoder has `encoderOutput` units (2× when bidirectional).
    public var hidden: Int = 128
    public var layers: Int = 1
    public var bidirectional = true
    /// Dropout between stacked layers and on each stack's output.
    public var dropout: Double = 0
    public var attention: AttentionKind = .luong
    /// Input feeding (Luong et al.): the previous attentional vector joins the next input.
    public var inputFeeding = true

    public init(sourceVocabulary: Int, targetVocabulary: Int) {
        self.sourceVocabulary = sourceVocabulary
        self.targetVocabulary = targetVocabulary
    }

    /// Width of the encoder's outputs and of the decoder's states.
    public var encoderOutput: Int { hidden * (bidirectional ? 2 : 1) }

    public func validate() throws(RNNKitError) {
        for (name, value) in [("source vocabulary", sourceVocabulary), ("target vocabulary", targetVocabulary), ("embedding", embedding),
                              ("hidden", hidden), ("layers", layers)] {
            try requirePositive(value, name)
        }
        guard dropout >= 0 && dropout < 1 else {
            throw .invalidValue(argument: "dropout", expected: "a rate in [0, 1)", found: "\(dropout)", hint: "0.2 is common.")
        }
    }
}

/// An encoder–decoder (sequence-to-sequence) model with attention, for N → M sequences:
///
/// - source embedding → encoder stack (bidirectional by default), masked past each source's length;
/// - a bridge: `tanh(W [h→; h←] + b)` from the last encoder layer's final states to every decoder
///   layer's initial `h` (and a second one to `c` for an LSTM);
/// - target embedding, joined with the previous attentional vector (input feeding) → decoder stack,
///   one step at a time;
/// - attention over the encoder outputs (padding masked): context `c_t`, attentional vector
///   `h̃_t = tanh(W_c [c_t; h_t])`;
/// - the output layer: logits `W_o h̃_t + b_o` over the target vocabulary.
///
/// Parameter names follow PyTorch's modules of the same parts (`encoder.weight_ih_l0_reverse`,
/// `attention.combine.weight`, ...).
public final class Seq2SeqModel<Scalar: TensorScalar>: ParameterContainer {
    public let configuration: Seq2SeqConfiguration
    public let sourceEmbedding: Embedding<Scalar>
    public let targetEmbedding: Embedding<Scalar>
    public let encoder: RecurrentLayer<Scalar>
    public let decoder: RecurrentLayer<Scalar>
    public let bridge: Dense<Scalar>
    public let bridgeCell: Dense<Scalar>?
    /// Luong: `W_a` (decoder state → encoder width); Bahdanau: `W₂` (decoder state → attention width).
    public let attentionQuery: Dense<Scalar>?
    /// Bahdanau's `W₁` (encoder outputs → attention width) and `v`.
    public let attentionKey: Dense<Scalar>?
    public let attentionV: Variable<Scalar>?
    /// `W_c`: `[context; state]` → attentional vector.
    public let combine: Dense<Scalar>?
    public let output: Dense<Scalar>

    public init(_ configuration: Seq2SeqConfiguration, generator: inout SeededGenerator) throws(RNNKitError) {
        try configuration.validate()
        let c = configuration, K = c.encoderOutput
        self.configuration = c
        sourceEmbedding = try Embedding(vocabularySize: c.sourceVocabulary, embeddingSize: c.embedding, generator: &generator)
        targetEmbedding = try Embedding(vocabularySize: c.targetVocabulary, embeddingSize: c.embedding, generator: &generator)
        let stackDropout = c.layers > 1 ? c.dropout : 0
        encoder = try RecurrentLayer(RecurrentConfiguration(cell: c.cell, inputSize: c.embedding, hiddenSize: c.hidden, numLayers: c.layers,
                                                            isBidirectional: c.bidirectional, dropout: stackDropout, outputDropout: c.dropout),
                                     generator: &generator)
        let fed = c.inputFeeding && c.attention != .none
        decoder = try RecurrentLayer(RecurrentConfiguration(cell: c.cell, inputSize: c.embedding + (fed ? K : 0), hiddenSize: K,
                                                            numLayers: c.layers, dropout: stackDropout, outputDropout: c.dropout),
                                     generator: &generator)
        bridge = try Dense(inputSize: K, outputSize: c.layers * K, generator: &generator)
        bridgeCell = c.cell == .lstm ? try Dense(inputSize: K, outputSize: c.layers * K, generator: &generator) : nil
        switch c.attention {
        case .luong:
            attentionQuery = try Dense(inputSize: K, outputSize: K, useBias: false, generator: &generator)
            attentionKey = nil
            attentionV = nil
        case .bahdanau:
            attentionQuery = try Dense(inputSize: K, outputSize: K, useBias: false, generator: &generator)
            attentionKey = try Dense(inputSize: K, outputSize: K, useBias: false, generator: &generator)
            let bound = 1 / Double(K).squareRoot()
            attentionV = Variable(try Tensor<Scalar>.uniform(shape: [K], low: Scalar(-bound), high: Scalar(bound), generator: &generator),
                                  requiresGrad: true)
        case .none:
            attentionQuery = nil
            attentionKey = nil
            attentionV = nil
        }
        combine = c.attention == .none ? nil : try Dense(inputSize: 2 * K, outputSize: K, generator: &generator)
        output = try Dense(inputSize: K, outputSize: c.targetVocabulary, generator: &generator)
    }

    public var namedParameters: [(name: String, variable: Variable<Scalar>)] {
        func named<P: ParameterContainer>(_ prefix: String, _ part: P?) -> [(name: String, variable: Variable<Scalar>)]
            where P.Scalar == Scalar {
            (part?.namedParameters ?? []).map { (prefix + "." + $0.name, $0.variable) }
        }
        return named("source_embedding", sourceEmbedding) + named("encoder", encoder) + named("bridge", bridge)
            + named("bridge_cell", bridgeCell) + named("target_embedding", targetEmbedding) + named("decoder", decoder)
            + named("attention.query", attentionQuery) + named("attention.key", attentionKey)
            + (attentionV.map { [("attention.v", $0)] } ?? []) + named("attention.combine", combine) + named("output", output)
    }

    /// What the decoder needs of an encoded batch.
    public struct Encoded {
        /// Encoder outputs `(B, S, K)`, zeros past each source's length.
        public var memory: Variable<Scalar>
        /// Bahdanau's `W₁ · memory`, computed once per batch.
        public var keys: Variable<Scalar>?
        public var lengths: [Int]
        /// The decoder's initial state, `(L, B, K)` each.
        public var state: RecurrentState<Variable<Scalar>>
    }

    /// Encodes `sources` (token ids, each of length ≥ 1) padded into one batch; dropout when `generator` is given.
    public func encode(_ sources: [[Int]], generator: inout SeededGenerator?) throws(RNNKitError) -> Encoded {
        let B = sources.count, S = sources.map(\.count).max() ?? 0
        guard B > 0, sources.allSatisfy({ !$0.isEmpty }) else {
            throw .invalidValue(argument: "sources", expected: "at least one non-empty source", found: "\(sources.map(\.count))",
                                hint: "Every source needs a token.")
        }
        let ids = sources.flatMap { $0 + Array(repeating: TokenVocabulary.padding, count: S - $0.count) }
        let lengths = sources.map(\.count)
        // The encoder reads the tokens (each one's row of E · W_ihᵀ where that pays, else the lookup).
        let encoded = try encoder(tokens: ids, batch: B, steps: S, embedding: sourceEmbedding.weight, lengths: lengths,
                                  training: &generator)
        let last = try encoded.state.h.lastLayerStates(numDirections: encoder.configuration.numDirections)  // (B, K)
        let L = configuration.layers
        let h0 = try bridge(last).tanh().splittingLayers(L)
        var c0: Variable<Scalar>?
        if let bridgeCell, let c = encoded.state.c {
            c0 = try bridgeCell(try c.lastLayerStates(numDirections: encoder.configuration.numDirections)).tanh().splittingLayers(L)
        }
        let keys = try attentionKey.map { dense throws(RNNKitError) in try dense(encoded.output) }
        return Encoded(memory: encoded.output, keys: keys, lengths: lengths, state: RecurrentState(h: h0, c: c0))
    }

    /// One decoder step: the previous tokens `(B)` and attentional vector `(B, K)` (nil at the first
    /// step: zeros) → logits `(B, V)`, the new attentional vector and state, and the attention
    /// weights `(B, S)` (nil without attention).
    public func decodeStep(_ tokens: [Int], feed: Variable<Scalar>?, state: RecurrentState<Variable<Scalar>>, encoded: Encoded,
                           generator: inout SeededGenerator?) throws(RNNKitError)
        -> (logits: Variable<Scalar>, feed: Variable<Scalar>, state: RecurrentState<Variable<Scalar>>, weights: Variable<Scalar>?) {
        let B = tokens.count, K = configuration.encoderOutput
        var input = try targetEmbedding(ids: tokens, shape: [B, 1]).reshaped([B, configuration.embedding])
        if configuration.inputFeeding && configuration.attention != .none {
            let previous = feed ?? Variable(Tensor<Scalar>(zeros: [B, K]))
            input = try Variable.concatenating([input, previous])
        }
        let x = try input.reshaped([B, 1, input.shape[1]])
        let r = generator == nil ? try decoder(x, initialState: state) : try decoder(x, initialState: state, training: &generator!)
        let h = try r.output.reshaped([B, K])
        guard let combine, let attentionQuery else {
            return (try output(h), h, r.state, nil)
        }
        let scores: Variable<Scalar>
        if let keys = encoded.keys, let v = attentionV {
            scores = try Attention.additiveScores(keys: keys, query: attentionQuery(h), v: v)
        } else {
            scores = try Attention.dotScores(memory: encoded.memory, query: attentionQuery(h))
        }
        let weights = try Attention.maskedSoftmax(scores, lengths: encoded.lengths)
        let context = try Attention.context(weights: weights, memory: encoded.memory)
        let attentional = try combine(try Variable.concatenating([context, h])).tanh()
        return (try output(attentional), attentional, r.state, weights)
    }

    /// Teacher forcing: the mean cross-entropy of every real target token and each target's end
    /// token, the decoder reading `<s> y₁ … y_{n−1}` and predicting `y₁ … y_n </s>`, with
    /// `labelSmoothing` ε spreading ε of each target over the vocabulary; also the number of tokens
    /// it averages over.
    public func teacherForcedLoss(sources: [[Int]], targets: [[Int]], labelSmoothing: Double = 0,
                                  training generator: inout SeededGenerator?) throws(RNNKitError) -> (loss: Variable<Scalar>, tokens: Int) {
        guard sources.count == targets.count else {
            throw .shapeMismatch(argument: "targets", expected: "\(sources.count) targets", found: [targets.count], hint: "One target per source.")
        }
        let encoded = try encode(sources, generator: &generator)
        let B = targets.count, T = (targets.map(\.count).max() ?? 0) + 1
        var state = encoded.state, feed: Variable<Scalar>? = nil
        var steps: [Variable<Scalar>] = []
        for t in 0..<T {
            let previous = targets.map { t == 0 ? TokenVocabulary.start : (t - 1 < $0.count ? $0[t - 1] : TokenVocabulary.padding) }
            let step = try decodeStep(previous, feed: feed, state: state, encoded: encoded, generator: &generator)
            steps.append(step.logits)
            state = step.state
            feed = step.feed
        }
        let logits = try Variable.stackingSteps(steps)  // (B, T, V)
        var labels: [Int] = [], weights: [Scalar] = []
        for target in targets {
            for t in 0..<T {
                labels.append(t < target.count ? target[t] : (t == target.count ? TokenVocabulary.end : TokenVocabulary.padding))
                weights.append(t <= target.count ? 1 : 0)
            }
        }
        let mask = Tensor<Scalar>(validShape: [B, T], scalars: weights)
        return (try Loss.sequenceLoss(logits: logits, targets: labels, weights: mask, labelSmoothing: labelSmoothing), Int(weights.reduce(0, +)))
    }
}
