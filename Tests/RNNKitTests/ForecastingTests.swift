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

/// Forecasting files: time order, groups, missing values, dates, splits and the inverse of each mode.
@Suite struct ForecastSeriesTests {
    static func table(_ csv: String) throws -> CSVTable { try CSVTable.parse(Array(csv.utf8), path: "f.csv", columns: nil) }

    @Test func seriesAreGroupedSortedAndInterpolated() throws {
        // Two groups, rows out of order; b misses its second step.
        let csv = "g,day,v\nb,2024-01-03,30\na,2024-01-02,2\nb,2024-01-01,10\na,2024-01-01,1\nb,2024-01-02,NA\nb,2024-01-04,40\n"
        var setup = ForecastSetup(targets: ["v"], time: "day", group: "g", window: 1, horizon: 1, mode: .absolute, test: 0, validation: 0)
        do {
            _ = try ForecastSeries.read(try Self.table(csv), setup: setup, path: "f.csv")
            Issue.record("a missing value was accepted")
        } catch {
            #expect(String(describing: error).contains("missing values in data row(s) 5") && String(describing: error).contains("--missing interpolate"),
                    "\(error)")
        }
        setup.missing = .interpolate
        let series = try ForecastSeries.read(try Self.table(csv), setup: setup, path: "f.csv")
        #expect(series.map(\.name) == ["b", "a"], "groups in order of first appearance")
        #expect(series[0].times == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"] && series[0].values == [10, 20, 30, 40])
        #expect(series[0].rows == [3, 5, 1, 6] && series[1].values == [1, 2])
        setup.missing = .drop
        let dropped = try ForecastSeries.read(try Self.table(csv), setup: setup, path: "f.csv")
        #expect(dropped[0].values == [10, 30, 40] && dropped[0].times == ["2024-01-01", "2024-01-03", "2024-01-04"])
        // Interpolation holds the nearest value at either end.
        let ends = try ForecastSeries.read(try Self.table("v\n\n2\n?\n6\nnan\n".replacingOccurrences(of: "\n\n", with: "\nNA\n")),
                                           setup: ForecastSetup(targets: ["v"], window: 1, horizon: 1, mode: .absolute, missing: .interpolate,
                                                                test: 0, validation: 0), path: "f.csv")
        #expect(ends[0].values == [2, 2, 4, 6, 6] && ends[0].times == ["1", "2", "3", "4", "5"])

        // A repeated time is refused with both rows named.
        do {
            _ = try ForecastSeries.read(try Self.table("t,v\n1,5\n2,6\n1,7\n"),
                                        setup: ForecastSetup(targets: ["v"], time: "t", window: 1, horizon: 1, mode: .absolute, test: 0, validation: 0),
                                        path: "f.csv")
            Issue.record("a repeated time was accepted")
        } catch {
            #expect(String(describing: error).contains("data rows 1 and 3 have the same time '1'") && String(describing: error).contains("--group"), "\(error)")
        }
    }

    @Test func timesParseAndContinue() throws {
        #expect(ForecastTime.key("2024-03-01") == ForecastTime.key("2024/03/01 00:00"))
        #expect(try #require(ForecastTime.key("2024-03-01T01:30")) - #require(ForecastTime.key("2024-03-01")) == 5400)
        #expect(try #require(ForecastTime.key("Mar 1 2024")) - #require(ForecastTime.key("2024-02-28")) == 2 * 86400, "2024 is a leap year")
        #expect(ForecastTime.key("1970-01-02") == 86400 && ForecastTime.key("19580329") == 19580329)
        #expect(ForecastTime.key("2024-13-01") == nil && ForecastTime.key("soon") == nil)
        #expect(ForecastTime.following(["2024-02-28", "2024-02-29"], count: 2) == ["2024-03-01", "2024-03-02"])
        #expect(ForecastTime.following(["2010/12/31 22:00", "2010/12/31 23:00"], count: 2) == ["2011/01/01 00:00", "2011/01/01 01:00"])
        #expect(ForecastTime.following(["2015-11-01", "2015-12-01"], count: 2) == ["2016-01-01", "2016-02-01"], "months, not 30 days")
        #expect(ForecastTime.following(["Jan 1 2000", "Feb 1 2000"], count: 1) == ["Mar 1 2000"])
        #expect(ForecastTime.following(["1998", "2000"], count: 2) == ["2002", "2004"])
        #expect(ForecastTime.key("Mar 1 200200000000000") == nil && ForecastTime.key("2010/01/01 -88888888885:15") == nil && ForecastTime.following(["0", "9e18"], count: 1) == ["1.8e+19"], "no overflow")
        #expect(ForecastTime.following(["b", "a"], count: 1) == nil)
    }

    @Test func differencedWindows() {
        // a = t², b = 10t: differences 2t − 1 and 10.
        let w = ForecastWindows(values: (0..<8).flatMap { [Float($0 * $0), Float(10 * $0)] }, columns: 2, targetColumns: [0], window: 2, horizon: 2)
        #expect(w.firstStart(.difference) == 3 && w.firstStart(.relative) == 2)
        #expect(w.starts(in: 0..<8, mode: .difference) == [3, 4, 5, 6])
        let d = w.dataset(starts: [4], mode: .difference)
        #expect(d.values == [3, 10, 5, 10], "steps 2 and 3 minus the steps before")
        #expect(d.labels == .targets([16 - 9, 25 - 9], width: 2), "changes from the last value seen, 9")
        #expect(w.lastValues(starts: [4, 6]) == [9, 25] && w.actual(starts: [6]) == [36, 49])
    }

    @Test func problemSplitsAndInverts() throws {
        let series = [ForecastSeries(name: "x", times: (1...10).map(String.init), values: (0..<10).map { Float($0) }, rows: Array(1...10)),
                      ForecastSeries(name: "y", times: (1...8).map(String.init), values: (0..<8).map { Float(2 * $0) }, rows: Array(1...8))]
        let setup = ForecastSetup(targets: ["v"], window: 2, horizon: 2, mode: .relative, test: 2, validation: 2)
        let problem = try ForecastProblem(series: series, setup: setup, path: "f.csv")
        #expect(problem.spans(0) == (6, 8) && problem.spans(1) == (4, 6))
        typealias O = ForecastProblem.Origin
        #expect(problem.origins(.train) == [O(series: 0, start: 2), O(series: 0, start: 3), O(series: 0, start: 4), O(series: 1, start: 2)])
        #expect(problem.origins(.validation) == [O(series: 0, start: 6), O(series: 1, start: 4)])
        #expect(problem.origins(.test) == [O(series: 0, start: 8), O(series: 1, start: 6)])
        let test = problem.origins(.test)
        #expect(problem.dataset(test).labels == .targets([1, 2, 2, 4], width: 2) && problem.dataset(test).values == [6, 7, 8, 10])
        // Outputs are changes: the forecast adds them to each window's last value (7 and 10).
        let scaling = FeatureScaling(mean: [1, 0], standardDeviation: [2, 1])
        #expect(problem.forecasts(outputs: [0, 1, 0.5, 4], origins: test, targetScaling: scaling) == [8, 8, 12, 14])
        // Persistence misses by 1, 2 and 2, 4; each series' naive scale is its step (1, 2): MASE averages 1.5 and 1.5.
        let e = problem.errors(problem.naive(test, season: nil), origins: test)
        #expect(e.meanAbsoluteError == 9.0 / 4 && e.meanAbsoluteScaledError == 1.5)
        // A series too short for its splits is named.
        do {
            _ = try ForecastProblem(series: series, setup: ForecastSetup(targets: ["v"], window: 4, horizon: 2, mode: .difference, test: 2, validation: 1),
                                    path: "f.csv")
            Issue.record("a short series was accepted")
        } catch {
            #expect(String(describing: error).contains("the series ('y') has 8 steps") && String(describing: error).contains("at least 10"), "\(error)")
        }
    }
}
