import Foundation
import RNNKit
import Testing

/// Loss values and gradients against loss_fixtures.json (float64 numpy reference
/// make_loss_fixtures.py beside it), and against finite differences.
@Suite struct LossTests {
    struct Case: Decodable {
        var shape: [Int]
        var logits: [Double]
        var labels: [Double]?
        var targets: [Double]?
        var weights: [Double]?
        var loss: Double
        var grad: [Double]
    }

    static func fixtures() throws -> [String: Case] {
        try JSONDecoder().decode([String: Case].self, from: Data(contentsOf: fixtureURL("loss_fixtures.json")))
    }

    /// Runs one fixture case and compares the loss and d loss / d logits.
    func check(_ c: Case, loss: (Variable<Double>) throws -> Variable<Double>) throws {
        let z = Variable(try Tensor(shape: c.shape, scalars: c.logits), requiresGrad: true)
        let l = try loss(z)
        #expect(abs(l.value.scalars[0] - c.loss) <= 1e-12 * max(1, abs(c.loss)))
        try l.backward()
        let g = try #require(z.grad)
        #expect(zip(g.scalars, c.grad).allSatisfy { abs($0 - $1) <= 1e-12 })
    }

    @Test func crossEntropyWithIndices() throws {
        let c = try #require(try Self.fixtures()["indices"])
        try check(c) { try Loss.softmaxCrossEntropy(logits: $0, labels: c.labels!.map { Int($0) }) }
        // The same in Float stays finite with a logit of 120.
        let z = Variable(try Tensor(shape: c.shape, scalars: c.logits.map(Float.init)))
        let l = try Loss.softmaxCrossEntropy(logits: z, labels: c.labels!.map { Int($0) })
        #expect(abs(Double(l.value.scalars[0]) - c.loss) <= 1e-5 * max(1, c.loss))
    }

    @Test func crossEntropyWithDistributions() throws {
        let c = try #require(try Self.fixtures()["distributions"])
        try check(c) { try Loss.softmaxCrossEntropy(logits: $0, targets: Tensor(shape: c.shape, scalars: c.targets!)) }
    }

    @Test func oneHotTargetsEqualIndices() throws {
        let c = try #require(try Self.fixtures()["indices"])
        let labels = c.labels!.map { Int($0) }
        let oneHot = labels.flatMap { y in (0..<7).map { $0 == y ? 1.0 : 0.0 } }
        let z = Variable(try Tensor(shape: c.shape, scalars: c.logits))
        let a = try Loss.softmaxCrossEntropy(logits: z, labels: labels).value.scalars[0]
        let b = try Loss.softmaxCrossEntropy(logits: z, targets: Tensor(shape: c.shape, scalars: oneHot)).value.scalars[0]
        #expect(abs(a - b) <= 1e-12)
    }

    @Test func sequenceLossWithWeights() throws {
        let c = try #require(try Self.fixtures()["sequence"])
        try check(c) {
            try Loss.sequenceLoss(logits: $0, targets: c.labels!.map { Int($0) }, weights: Tensor(shape: [2, 3], scalars: c.weights!))
        }
    }

    @Test func lossGradientsMatchFiniteDifferences() throws {
        var g = SeededGenerator(seed: 31)
        let z = Variable<Double>(try randomTensor([2, 4, 6], &g, low: -3, high: 3), requiresGrad: true)
        let labels = [0, 5, 2, 2, 3, 1, 4, 5]
        let weights = try Tensor<Double>(shape: [2, 4], scalars: [1, 1, 0.5, 0, 2, 1, 1, 1])
        let report = try checkGradients([("logits", z)]) {
            try (try Loss.sequenceLoss(logits: z, targets: labels, weights: weights))
                + (try Loss.softmaxCrossEntropy(logits: z, labels: labels))
        }
        #expect(report.worstRelativeError < 1e-6, "\(report)")
    }

    @Test func readoutSlicesMatchFiniteDifferences() throws {
        var g = SeededGenerator(seed: 32)
        let x = Variable<Double>(try randomTensor([3, 5, 4], &g), requiresGrad: true)
        let s = Variable<Double>(try randomTensor([4, 3, 6], &g), requiresGrad: true)  // L=2, D=2
        let report = try checkGradients([("x", x), ("state", s)]) {
            try (try projection(try x.selectingStep(-1), seed: 33)) + (try projection(try x.selectingStep(1), seed: 34))
                + (try projection(try s.lastLayerStates(numDirections: 2), seed: 35))
        }
        #expect(report.worstRelativeError < 1e-6, "\(report)")
        let last = try s.lastLayerStates(numDirections: 2).value
        #expect(last[1, 0] == s.value[2, 1, 0] && last[1, 6] == s.value[3, 1, 0])  // [forward, reverse] of layer 1
    }

    @Test func badLossInputsThrow() throws {
        let z = Variable(try Tensor<Float>(repeating: 0, shape: [2, 3]))
        #expect(throws: RNNKitError.self) { try Loss.softmaxCrossEntropy(logits: z, labels: [0, 3]) }
        #expect(throws: RNNKitError.self) { try Loss.softmaxCrossEntropy(logits: z, labels: [0]) }
        #expect(throws: RNNKitError.self) { try Loss.softmaxCrossEntropy(logits: z, targets: Tensor(repeating: 0, shape: [3, 2])) }
        #expect(throws: RNNKitError.self) { try Loss.sequenceLoss(logits: z, targets: [0, 1]) }
        let z3 = Variable(try Tensor<Float>(repeating: 0, shape: [1, 2, 3]))
        #expect(throws: RNNKitError.self) { try Loss.sequenceLoss(logits: z3, targets: [0, 1], weights: Tensor(repeating: 0, shape: [1, 2])) }
    }
}
