import Foundation
import RNNKit

/// Forecasting CSV: first column the time, second the target, a third (when there is one) the
/// group. Under each missing-value policy every input either reads into whole series (no value
/// missing after interpolate or drop) that cut into windows, or throws a `DataError`; the times
/// of every series continue or say they cannot.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForecast(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let table = try? CSVTable.parse(bytes, path: "fuzz.csv", columns: nil), table.header.count >= 2 else { return 0 }
    for policy in [nil, MissingValuePolicy.interpolate, .drop] {
        let setup = ForecastSetup(targets: [table.header[1]], time: table.header[0], group: table.header.count > 2 ? table.header[2] : nil,
                                  window: 2, horizon: 1, mode: .difference, missing: policy, test: 1, validation: 0)
        guard let series = try? ForecastSeries.read(table, setup: setup, path: "fuzz.csv") else { continue }
        precondition(series.map(\.steps).reduce(0, +) <= table.rowCount, "steps invented")
        for s in series {
            precondition(s.values.count == s.steps && s.rows.count == s.steps, "values, times and rows differ in count")
            precondition(!s.values.contains { $0.isNaN }, "a missing value survived")
            _ = ForecastTime.following(s.times, count: 3)
        }
        guard let problem = try? ForecastProblem(series: series, setup: setup, path: "fuzz.csv") else { continue }
        for split in [ForecastProblem.Split.train, .test] {
            let origins = problem.origins(split)
            let data = problem.dataset(origins)
            precondition(data.count == origins.count && problem.actual(origins).count == origins.count, "windows lost")
        }
    }
    return 0
}
