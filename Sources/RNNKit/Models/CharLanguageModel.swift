/// The architecture of a character-level language model; the `model` object of its `config.json`.
public struct CharLMConfiguration: Codable, Equatable, Sendable {
    public var vocabulary: Vocabulary
    /// Size of the learned embedding; nil feeds one-hot vectors (seed 001).
    public var embeddingSize: Int?
    /// The recurrent stack; its `inputSize` is `embeddingSize ?? vocabulary.count`.
    public var recurrent: RecurrentConfiguration

    public init(vocabulary: Vocabulary, embeddingSize: Int?, recurrent: RecurrentConfiguration) {
        self.vocabulary = vocabulary
        self.embeddingSize = embeddingSize
        self.recurrent = recurrent
    }

    /// Checks the sizes, that the stack is unidirectional, and that it reads what the input layer gives.
    /// Weights and biases of the whole model (a `Double`: sizes read from a file may be absurd).
    public var parameterCount: Double {
        let v = Double(vocabulary.count)
        return Double(embeddingSize ?? 0) * v + recurrent.parameterCount + (Double(recurrent.hiddenSize) + 1) * v
    }

    public func validate() throws(RNNKitError) {
        try requirePositive(vocabulary.count, "vocabulary")
        if let embeddingSize { try requirePositive(embeddingSize, "embeddingSize") }
        try recurrent.validate()
        try requireParameterMemory(parameterCount, "a language model")
        guard !recurrent.isBidirectional else {
            throw .invalidValue(argument: "recurrent.isBidirectional", expected: "false", found: "true",
                                hint: "A language model predicts the next character, so it may only read the past.")
        }
        guard recurrent.inputSize == (embeddingSize ?? vocabulary.count) else {
            throw .invalidValue(argument: "recurrent.inputSize", expected: "\(embeddingSize ?? vocabulary.count) (embeddingSize ?? vocabulary size)",
                                found: "\(recurrent.inputSize)", hint: "The stack reads the embedding or the one-hot vectors.")
        }
    }
}

/// Predicts the next character at every step: an embedding (or one-hot vectors), a unidirectional
/// recurrent stack, and a dense layer to vocabulary logits.
///
/// Shapes: ids `(B, T)` row-major → logits `(B, T, V)`; state `(L, B, H)`.
/// Parameters (PyTorch names): `embedding.weight`, `rnn.*`, `fc.weight`, `fc.bias`.
public final class CharLanguageModel<Scalar: TensorScalar>: ParameterContainer {
    public let configuration: CharLMConfiguration
    /// `(V, E)`; nil when the model reads one-hot vectors.
    public let embedding: Embedding<Scalar>?
    /// The unidirectional recurrent stack.
    public let rnn: RecurrentLayer<Scalar>
    /// `H → V` logits at every step.
    public let fc: Dense<Scalar>

    /// Builds the model with PyTorch's default initialisation drawn from `generator`.
    /// - Throws: `RNNKitError` when the configuration is inconsistent.
    public init(_ configuration: CharLMConfiguration, generator: inout SeededGenerator) throws(RNNKitError) {
        try configuration.validate()
        self.configuration = configuration
        let v = configuration.vocabulary.count
        embedding = try configuration.embeddingSize.map { (e: Int) throws(RNNKitError) in
            try Embedding<Scalar>(vocabularySize: v, embeddingSize: e, generator: &generator)
        }
        rnn = try RecurrentLayer(configuration.recurrent, generator: &generator)
        fc = try Dense(inputSize: configuration.recurrent.outputSize, outputSize: v, generator: &generator)
    }

    public var namedParameters: [(name: String, variable: Variable<Scalar>)] {
        (embedding.map { [(name: "embedding.weight", variable: $0.weight)] } ?? [])
            + rnn.namedParameters.map { (name: "rnn." + $0.name, variable: $0.variable) }
            + fc.namedParameters.map { (name: "fc." + $0.name, variable: $0.variable) }
    }

    /// Logits `(B, T, V)` for ids `(B, T)` from `state` (zeros when nil), recorded for `backward()`;
    /// dropout is on when `generator` is given.
    public func callAsFunction(
        ids: [Int], batch: Int, steps: Int, state: RecurrentState<Variable<Scalar>>?, training generator: inout SeededGenerator?
    ) throws(RNNKitError) -> (logits: Variable<Scalar>, state: RecurrentState<Variable<Scalar>>) {
        // The stack reads the tokens: its first layer adds each token's row of E · W_ihᵀ instead of
        // multiplying its embedding every step.
        let r = try rnn(tokens: ids, batch: batch, steps: steps, embedding: embedding?.weight, initialState: state,
                        training: &generator)
        return (try fc(r.output), r.state)
    }

    /// Logits `(B, T, V)` for inference: no dropout, nothing recorded.
    public func logits(ids: [Int], batch: Int, steps: Int, state: RecurrentState<Tensor<Scalar>>?) throws(RNNKitError)
        -> (logits: Tensor<Scalar>, state: RecurrentState<Tensor<Scalar>>) {
        let r = try rnn(tokens: ids, batch: batch, steps: steps, embedding: embedding?.weight.value, initialState: state)
        return (try fc(r.output), r.state)
    }

    /// One step for each of B streams, through the recurrent layer's one-step API: logits `(B, V)`.
    /// The embeddings are multiplied here: a table of the tokens' input parts would cost more than
    /// a step of a few streams. So its logits match `logits`' up to rounding.
    public func step(ids: [Int], state: RecurrentState<Tensor<Scalar>>?) throws(RNNKitError)
        -> (logits: Tensor<Scalar>, state: RecurrentState<Tensor<Scalar>>) {
        let x: Tensor<Scalar>
        if let embedding {
            x = try embedding.lookup(ids: ids, shape: [ids.count])
        } else {
            x = try oneHot(ids, batch: ids.count, steps: 1).reshaped([ids.count, configuration.vocabulary.count])
        }
        let r = try rnn.step(x, state: state)
        return (try fc(r.output), r.state)
    }

    private func oneHot(_ ids: [Int], batch: Int, steps: Int) throws(RNNKitError) -> Tensor<Scalar> {
        let v = configuration.vocabulary.count
        guard ids.count == batch * steps else {
            throw .shapeMismatch(argument: "ids", expected: "(\(batch), \(steps))", found: [ids.count], hint: "One id per step of every stream.")
        }
        for (n, id) in ids.enumerated() where id < 0 || id >= v {
            throw .invalidValue(argument: "ids[\(n)]", expected: "an id in 0..<\(v)", found: "\(id)",
                                hint: "Encode text with the model's vocabulary.")
        }
        return oneHotVectors(ids, count: v, shape: [batch, steps])
    }
}

/// How `sample` picks each next character.
public struct SamplingOptions: Sendable {
    /// Logits are divided by this before the softmax: below 1 sharpens, above 1 flattens.
    public var temperature: Double = 1
    /// Draw only among the k most likely characters.
    public var topK: Int?
    /// Always take the most likely character (temperature → 0).
    public var argmax = false

    public init(temperature: Double = 1, topK: Int? = nil, argmax: Bool = false) {
        self.temperature = temperature
        self.topK = topK
        self.argmax = argmax
    }
}

extension CharLanguageModel {
    /// Generates `length` characters after `prime`, one step at a time, carrying the state.
    /// - Parameters:
    ///   - prime: fed first (its characters must be in the vocabulary); when empty, a newline if the
    ///     vocabulary has one, else its first character.
    ///   - emit: called with each new character as soon as it is drawn (for streaming).
    /// - Returns: the generated characters (without the prime).
    public func sample(prime: String, length: Int, options: SamplingOptions, generator: inout SeededGenerator,
                       emit: (String) -> Void = { _ in }) throws(RNNKitError) -> String {
        let vocabulary = configuration.vocabulary
        guard options.temperature > 0 && options.temperature.isFinite else {
            throw .invalidValue(argument: "temperature", expected: "a positive number", found: "\(options.temperature)",
                                hint: "Use --argmax for the most likely character at every step.")
        }
        if let k = options.topK, k < 1 {
            throw .invalidValue(argument: "top-k", expected: "at least 1", found: "\(k)", hint: "--top-k 1 is the same as --argmax.")
        }
        guard length >= 0 else {
            throw .invalidValue(argument: "length", expected: "a count ≥ 0", found: "\(length)", hint: "How many characters to generate.")
        }
        let start = prime.isEmpty ? (vocabulary.characters.contains("\n") ? "\n" : vocabulary.characters[0]) : prime
        let primeIDs = try vocabulary.encode(start, argument: "prime")
        var state: RecurrentState<Tensor<Scalar>>? = nil
        var logits = Tensor<Scalar>(zeros: [1, vocabulary.count])
        for id in primeIDs { (logits, state) = try step(ids: [id], state: state) }
        var out: [Int] = []
        for _ in 0..<length {
            let next = pick(logits.scalars, options: options, generator: &generator)
            out.append(next)
            emit(vocabulary.characters[next])
            (logits, state) = try step(ids: [next], state: state)
        }
        return vocabulary.decode(out)
    }

    /// The distribution of the character after `text` (fed one step at a time from a zero state,
    /// as `sample` primes): a probability for every vocabulary entry, in vocabulary order.
    /// - Throws: `RNNKitError.invalidValue` for an empty text or a character outside the vocabulary.
    public func nextCharacterProbabilities(after text: String) throws(RNNKitError) -> [Double] {
        guard !text.isEmpty else {
            throw .invalidValue(argument: "text", expected: "at least one character", found: "an empty text", hint: "Give the text to continue.")
        }
        var state: RecurrentState<Tensor<Scalar>>? = nil
        var logits = Tensor<Scalar>(zeros: [1, configuration.vocabulary.count])
        for id in try configuration.vocabulary.encode(text, argument: "text") { (logits, state) = try step(ids: [id], state: state) }
        let z = logits.scalars.map { Double($0) }, m = z.max()!
        let e = z.map { Double.exp($0 - m) }, total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    private func pick(_ logits: [Scalar], options: SamplingOptions, generator: inout SeededGenerator) -> Int {
        let z = logits.map { Double($0) }
        var order = Array(z.indices)
        if options.argmax || options.topK == 1 { return order.max { z[$0] < z[$1] }! }
        if let k = options.topK, k < z.count {
            order.sort { z[$0] > z[$1] }
            order = Array(order.prefix(k))
        }
        let m = order.map { z[$0] }.max()!
        let weights = order.map { Double.exp((z[$0] - m) / options.temperature) }
        var u = generator.nextUnit() * weights.reduce(0, +)
        for (i, w) in zip(order, weights) {
            u -= w
            if u < 0 { return i }
        }
        return order.last!
    }
}
