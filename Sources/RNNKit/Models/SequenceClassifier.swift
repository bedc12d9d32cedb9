/// Which recurrent result feeds the classifier.
public enum Readout: String, Codable, Sendable, CaseIterable {
    /// The output at the last step (the seeds' `outputs[-1]`); for a bidirectional stack the reverse
    /// half is its output at that step, after reading one step.
    case last
    /// The final hidden state of each direction of the last layer, side by side (PyTorch's `h_n`).
    case final
    /// The output at every step, each to its own prediction (tagging; Keras
    /// `return_sequences=True` then `Dense`): logits `(B, T, classes)`.
    case steps
}

/// The architecture of a `SequenceClassifier`; stored as the `model` object of `config.json`.
public struct SequenceClassifierConfiguration: Codable, Equatable, Sendable {
    /// Features per step of the input (28 pixels for an image row).
    public var features: Int
    /// When set, a dense layer `features → projection` applied to every step first (seed 004).
    public var projection: Int?
    /// The recurrent stack; its `inputSize` is `projection ?? features`.
    public var recurrent: RecurrentConfiguration
    public var readout: Readout
    public var classes: Int

    public init(features: Int, projection: Int? = nil, recurrent: RecurrentConfiguration, readout: Readout = .last,
                classes: Int) {
        self.features = features
        self.projection = projection
        self.recurrent = recurrent
        self.readout = readout
        self.classes = classes
    }

    /// Checks the sizes and that the stack reads what comes before it.
    public func validate() throws(RNNKitError) {
        try requirePositive(features, "features")
        try requirePositive(classes, "classes")
        if let projection { try requirePositive(projection, "projection") }
        try recurrent.validate()
        try requireParameterMemory(parameterCount, "a classifier")
        guard recurrent.inputSize == (projection ?? features) else {
            throw .invalidValue(argument: "recurrent.inputSize", expected: "\(projection ?? features) (projection ?? features)",
                                found: "\(recurrent.inputSize)", hint: "The stack reads the projection's output, or the raw features.")
        }
    }

    /// Weights and biases of the whole model (a `Double`: sizes read from a file may be absurd).
    public var parameterCount: Double {
        let projectionWeights = projection.map { Double(features + 1) * Double($0) } ?? 0
        // In Doubles: sizes read from a file may be absurd. `steps` reads what `last` reads, at every step.
        let readout = Double(readout == .final ? recurrent.numDirections : (recurrent.isBidirectional && recurrent.merge == .concat ? 2 : 1))
            * Double(recurrent.hiddenSize)
        return projectionWeights + recurrent.parameterCount + (readout + 1) * Double(classes)
    }

    /// Features the readout hands to the final dense layer.
    public var readoutSize: Int {
        readout == .final ? recurrent.numDirections * recurrent.hiddenSize : recurrent.outputSize
    }
}

/// Classifies whole sequences (or, with the `steps` readout, every step): an optional dense
/// projection on every step, a recurrent stack, a readout, and a dense layer to class logits.
///
/// Shapes: input `(B, T, features)`, logits `(B, classes)` (`(B, T, classes)` with `steps`). Parameters under PyTorch state-dict names
/// of the module in README: `proj.weight`, `proj.bias`, `rnn.weight_ih_l0`, …, `fc.weight`, `fc.bias`.
public final class SequenceClassifier<Scalar: TensorScalar>: ParameterContainer {
    public let configuration: SequenceClassifierConfiguration
    /// `features → projection` on every step; nil without a projection.
    public let projection: Dense<Scalar>?
    /// The recurrent stack.
    public let rnn: RecurrentLayer<Scalar>
    /// Readout features → class logits.
    public let fc: Dense<Scalar>

    /// Builds the model with PyTorch's default initialisation drawn from `generator`.
    public init(_ configuration: SequenceClassifierConfiguration, generator: inout SeededGenerator) throws(RNNKitError) {
        try configuration.validate()
        self.configuration = configuration
        projection = try configuration.projection.map { (p: Int) throws(RNNKitError) in
            try Dense<Scalar>(inputSize: configuration.features, outputSize: p, generator: &generator)
        }
        rnn = try RecurrentLayer(configuration.recurrent, generator: &generator)
        fc = try Dense(inputSize: configuration.readoutSize, outputSize: configuration.classes, generator: &generator)
    }

    public var namedParameters: [(name: String, variable: Variable<Scalar>)] {
        let prefixed = { (prefix: String, list: [(name: String, variable: Variable<Scalar>)]) in
            list.map { (name: prefix + $0.name, variable: $0.variable) }
        }
        return prefixed("proj.", projection?.namedParameters ?? []) + prefixed("rnn.", rnn.namedParameters)
            + prefixed("fc.", fc.namedParameters)
    }

    /// Logits `(B, classes)` (`(B, T, classes)` with `steps`) in evaluation mode (no dropout), recorded for `backward()`.
    /// With `lengths`, sample b reads only its first `lengths[b]` steps (TF `sequence_length`).
    public func callAsFunction(_ input: Variable<Scalar>, lengths: [Int]? = nil) throws(RNNKitError) -> Variable<Scalar> {
        var none: SeededGenerator? = nil
        return try forward(input, lengths: lengths, generator: &none)
    }

    /// Logits `(B, classes)` in training mode: dropout masks are drawn from `generator`.
    public func callAsFunction(_ input: Variable<Scalar>, lengths: [Int]? = nil, training generator: inout SeededGenerator)
        throws(RNNKitError) -> Variable<Scalar> {
        var g: SeededGenerator? = generator
        defer { generator = g! }
        return try forward(input, lengths: lengths, generator: &g)
    }

    private func forward(_ input: Variable<Scalar>, lengths: [Int]?, generator: inout SeededGenerator?) throws(RNNKitError)
        -> Variable<Scalar> {
        let x = try projection.map { (p: Dense<Scalar>) throws(RNNKitError) in try p(input) } ?? input
        let r: RecurrentOutput<Variable<Scalar>>
        if generator != nil {
            r = try rnn(x, lengths: lengths, training: &generator!)
        } else {
            r = try rnn(x, lengths: lengths)
        }
        switch configuration.readout {
        case .last: return try fc(r.output.selectingSteps(lastSteps(lengths, batch: x.shape[0], steps: x.shape[1])))
        case .final: return try fc(r.state.h.lastLayerStates(numDirections: configuration.recurrent.numDirections))
        case .steps: return try fc(r.output)
        }
    }

    /// Logits `(B, classes)` (`(B, T, classes)` with `steps`) for inference: no dropout, nothing recorded.
    public func logits(_ input: Tensor<Scalar>, lengths: [Int]? = nil) throws(RNNKitError) -> Tensor<Scalar> {
        let x = try projection.map { (p: Dense<Scalar>) throws(RNNKitError) in try p(input) } ?? input
        let r = try rnn(x, lengths: lengths)
        switch configuration.readout {
        case .last: return try fc(r.output.selectingSteps(lastSteps(lengths, batch: x.shape[0], steps: x.shape[1])))
        case .final: return try fc(r.state.h.lastLayerStates(numDirections: configuration.recurrent.numDirections))
        case .steps: return try fc(r.output)
        }
    }

    /// The step the `last` readout reads for each sample: its last valid one.
    private func lastSteps(_ lengths: [Int]?, batch: Int, steps: Int) -> [Int] {
        lengths?.map { max($0, 1) - 1 } ?? Array(repeating: max(steps, 1) - 1, count: batch)
    }
}
