/// Seed 001's hand-worked forward pass of a two-unit tanh RNN, computed by RNNKit's own layers.
///
/// The seed writes `s = tanh(s·W_s + x·w_x + b)` and `y = s·w_o + 0.1` with row vectors; in
/// PyTorch's layout that is a `rnnTanh` layer with `W_hh = W_sᵀ`, `W_ih = w_xᵀ`, `b_ih = b`,
/// `b_hh = 0`, followed by a `Dense` layer with `weight = w_oᵀ` and `bias = 0.1`.
public enum SeedForwardDemo {
    /// One step of the demo: the pre-activation, the new state, and the output.
    public struct Step: Sendable {
        public var preActivation: [Double]  // (2)
        public var state: [Double]          // (2)
        public var output: [Double]         // (1)
    }

    /// The seed's inputs `X = [1, 2]`, one feature per step.
    public static let inputs: [Double] = [1, 2]

    /// Runs the two steps from `s0 = 0`.
    public static func run() throws(RNNKitError) -> [Step] {
        var generator = SeededGenerator(seed: 0)  // the weights below replace the random ones
        let rnn = try RecurrentLayer<Double>(.rnnTanh, inputSize: 1, hiddenSize: 2, generator: &generator)
        let wS = try Tensor<Double>(shape: [2, 2], scalars: [0.1, 0.2, 0.3, 0.4])
        let wHH = try Tensor<Double>(shape: [2, 2], scalars: [0.1, 0.3, 0.2, 0.4])  // W_sᵀ
        try rnn.setParameter(named: "weight_hh_l0", to: wHH)
        try rnn.setParameter(named: "weight_ih_l0", to: Tensor(shape: [2, 1], scalars: [0.5, 0.6]))
        try rnn.setParameter(named: "bias_ih_l0", to: Tensor(shape: [2], scalars: [0.1, -0.1]))
        try rnn.setParameter(named: "bias_hh_l0", to: Tensor(shape: [2], scalars: [0, 0]))
        let readout = try Dense<Double>(inputSize: 2, outputSize: 1, generator: &generator)
        try readout.setParameter(named: "weight", to: Tensor(shape: [1, 2], scalars: [0.1, 0.2]))
        try readout.setParameter(named: "bias", to: Tensor(shape: [1], scalars: [0.1]))

        let x = try Tensor<Double>(shape: [1, inputs.count, 1], scalars: inputs)
        let states = try rnn(x).output              // (1, T, 2)
        let outputs = try readout(states)           // (1, T, 1)

        var steps: [Step] = []
        var previous = try Tensor<Double>(shape: [1, 2], scalars: [0, 0])
        for t in 0..<inputs.count {
            // The pre-activation is not a layer output; recompute it from the seed's formula to show it.
            let pre = try previous.matmul(wS) + Tensor(shape: [1, 2], scalars: [0.5 * inputs[t] + 0.1, 0.6 * inputs[t] - 0.1])
            let state = [states[0, t, 0], states[0, t, 1]]
            steps.append(Step(preActivation: pre.scalars, state: state, output: [outputs[0, t, 0]]))
            previous = try Tensor(shape: [1, 2], scalars: state)
        }
        return steps
    }
}
