import Foundation
import RNNKit
import Testing

/// Forecast windows, the naive baselines and the error measures, against values worked by hand.
@Suite struct ForecastingTests {
    /// Two columns: a = 0, 1, 2, … (the target), b = 10·a.
    static let series = ForecastWindows(values: (0..<10).flatMap { [Float($0), Float(10 * $0)] }, columns: 2, targetColumns: [0],
                                        window: 3, horizon: 2)

    @Test func windowsAndTargets() {
        let w = Self.series
        #expect(w.starts(in: 0..<10) == [3, 4, 5, 6, 7, 8])
        #expect(w.starts(in: 2..<7, stride: 2) == [5])
        #expect(w.starts(in: 0..<4).isEmpty, "4 steps cannot hold 3 + 2")
        let d = w.dataset(starts: [3, 8])
        #expect(d.count == 2 && d.features == 2 && d.offsets == [0, 3, 6])
        #expect(Array(d.values[0..<6]) == [0, 0, 1, 10, 2, 20] && Array(d.values[6...]) == [5, 50, 6, 60, 7, 70])
        #expect(d.labels == .targets([3, 4, 8, 9], width: 2))
        #expect(w.dataset(starts: [3, 8], mode: .relative).labels == .targets([1, 2, 1, 2], width: 2), "changes from the last value seen")
    }

    @Test func naiveForecasts() {
        let w = Self.series
        #expect(w.naiveForecasts(starts: [3, 8]) == [2, 2, 7, 7], "persistence repeats the last value")
        // Season 2, horizon 2: steps s and s + 1 take s − 2 and s − 1.
        #expect(w.naiveForecasts(starts: [3, 8], season: 2) == [1, 2, 6, 7])
        // Season 1 is persistence; a horizon past the season reaches back whole seasons.
        #expect(w.naiveForecasts(starts: [5], season: 1) == [4, 4])
        let long = ForecastWindows(values: (0..<12).map(Float.init), columns: 1, targetColumns: [0], window: 4, horizon: 5)
        #expect(long.naiveForecasts(starts: [6], season: 2) == [4, 5, 4, 5, 4])
    }

    @Test func errorMeasures() throws {
        let e = ForecastErrors(predicted: [1, 2, 0, .nan], actual: [2, 4, 0, 9], scale: 0.5)
        #expect(abs(e.meanAbsoluteError - 1) < 1e-12)                       // (1 + 2 + 0) / 3
        #expect(abs(e.rootMeanSquaredError - (5.0 / 3).squareRoot()) < 1e-12)
        #expect(abs(e.symmetricMAPE - 100 * (2.0 / 3 + 4.0 / 6 + 0) / 3) < 1e-9)
        #expect(abs(try #require(e.meanAbsoluteScaledError) - 2) < 1e-12)
        #expect(ForecastErrors(predicted: [1], actual: [1], scale: 0).meanAbsoluteScaledError == nil)
        // In-sample naive scale: mean |y_t − y_{t−m}|.
        let sum: Double = 2 + 1 + 4, seasonal: Double = 1 + 3
        #expect(ForecastErrors.naiveScale([1, 3, 2, 6], season: nil) == sum / 3)
        #expect(ForecastErrors.naiveScale([1, 3, 2, 6], season: 2) == seasonal / 2)
        #expect(ForecastErrors.naiveScale([1], season: nil) == nil)
    }
}
