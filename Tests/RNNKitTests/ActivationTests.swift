import Foundation
@_spi(Testing) import RNNKit
import Testing

/// The vectorised Float activations against Double libm, over a dense sweep and the edge cases.
@Suite struct ActivationTests {
    static let sweep: [Float] = stride(from: -100.0, through: 100.0, by: 0.0137).map { Float($0) }
        + [0, -0, 1e-30, -1e-30, 1e-8, 0.6249, 0.625, 0.6251, 88, 88.5, 89, 90, -87, -88, -104, -1e4, 1e4,
           .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .infinity, -.infinity]

    func worst(_ apply: (UnsafeMutablePointer<Float>, Int) -> Void, _ reference: (Double) -> Double) -> (abs: Double, rel: Double) {
        var values = Self.sweep
        values.withUnsafeMutableBufferPointer { apply($0.baseAddress!, $0.count) }  // odd count: the scalar tail runs too
        var worstAbs = 0.0, worstRel = 0.0
        for (x, y) in zip(Self.sweep, values) {
            let want = reference(Double(x))
            let error = abs(Double(y) - want)
            worstAbs = max(worstAbs, error)
            if abs(want) > 1e-30 { worstRel = max(worstRel, error / abs(want)) }
            #expect(y.isFinite, "f(\(x)) = \(y)")
        }
        return (worstAbs, worstRel)
    }

    /// Both paths: the one this CPU uses (AVX2 where it has it) and the portable one.
    @Test(arguments: [false, true])
    func sigmoidMatchesLibm(portable: Bool) {
        let (absError, relError) = worst(portable ? Float.portableSigmoid : Float.sigmoid, { 1 / (1 + Foundation.exp(-$0)) })
        #expect(absError < 1e-7, "worst absolute error \(absError)")
        #expect(relError < 1e-6, "worst relative error \(relError)")
    }

    @Test(arguments: [false, true])
    func tanhMatchesLibm(portable: Bool) {
        let (absError, relError) = worst(portable ? Float.portableTanh : Float.tanh, { Foundation.tanh($0) })
        #expect(absError < 2e-7, "worst absolute error \(absError)")
        #expect(relError < 1e-6, "worst relative error \(relError)")
    }

    @Test(arguments: [false, true])
    func notANumberStaysNotANumber(portable: Bool) {
        var values: [Float] = Array(repeating: .nan, count: 11)
        values.withUnsafeMutableBufferPointer { (portable ? Float.portableSigmoid : Float.sigmoid)($0.baseAddress!, $0.count) }
        #expect(values.allSatisfy { $0.isNaN })
        values = Array(repeating: .nan, count: 11)
        values.withUnsafeMutableBufferPointer { (portable ? Float.portableTanh : Float.tanh)($0.baseAddress!, $0.count) }
        #expect(values.allSatisfy { $0.isNaN })
    }
}
