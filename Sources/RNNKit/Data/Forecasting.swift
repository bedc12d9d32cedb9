import Foundation

/// What a forecaster reads and predicts.
public enum ForecastMode: String, Codable, Sendable, CaseIterable {
    /// Levels in, levels out (each scaled with training statistics).
    case absolute
    /// Levels in; out, each target's change from the window's last value (a trend cannot push
    /// the targets out of the range seen in training).
    case relative
    /// Changes in (every step minus the one before, for every column); out, each target's
    /// change from the window's last value, as in `.relative` (first differencing, ARIMA's d = 1,
    /// with the forecast summed back onto the last value).
    case difference
}

/// A time series cut into supervised windows: `window` past steps of every column predict the next
/// `horizon` values of the target columns (Keras `timeseries_dataset_from_array`, darts'
/// `input_chunk_length` / `output_chunk_length`).
///
/// Forecasting is then regression on windows: each window is a sequence of `window` steps, and its
/// target holds `horizon × targets` numbers, step-major (`y[h·K + k]` is target k, h + 1 steps
/// ahead).
public struct ForecastWindows: Sendable {
    /// The series: `steps × columns`, row-major.
    public var values: [Float]
    public var columns: Int
    /// Which columns are forecast.
    public var targetColumns: [Int]
    public var window: Int
    public var horizon: Int

    /// - Precondition: `values.count` is a multiple of `columns`; targets are valid columns;
    ///   window and horizon ≥ 1.
    public init(values: [Float], columns: Int, targetColumns: [Int], window: Int, horizon: Int) {
        precondition(columns > 0 && values.count % columns == 0 && window > 0 && horizon > 0
                     && !targetColumns.isEmpty && targetColumns.allSatisfy { $0 >= 0 && $0 < columns }, "inconsistent windows")
        self.values = values
        self.columns = columns
        self.targetColumns = targetColumns
        self.window = window
        self.horizon = horizon
    }

    public var steps: Int { values.count / columns }

    /// Windows whose forecast starts at step `s` (the first predicted step) for each `s` in
    /// `starts`: inputs are steps `s − window ..< s`.
    /// - Parameter mode: what the model reads and predicts (`ForecastMode`): in `.relative` and
    ///   `.difference`, targets are changes from the window's last value of each target column;
    ///   in `.difference` the inputs are each step's change from the step before.
    /// - Precondition: `firstStart(mode) ≤ s` and `s + horizon ≤ steps` for every start.
    public func dataset(starts: [Int], mode: ForecastMode = .absolute) -> SequenceDataset {
        let K = targetColumns.count
        var x: [Float] = [], y: [Float] = [], offsets = [0]
        x.reserveCapacity(starts.count * window * columns)
        for s in starts {
            precondition(s >= firstStart(mode) && s + horizon <= steps, "window out of the series")
            if mode == .difference {
                for t in (s - window)..<s {
                    for c in 0..<columns { x.append(values[t * columns + c] - values[(t - 1) * columns + c]) }
                }
            } else {
                x += values[((s - window) * columns)..<(s * columns)]
            }
            for h in 0..<horizon {
                for c in targetColumns {
                    let base = mode == .absolute ? 0 : values[(s - 1) * columns + c]
                    y.append(values[(s + h) * columns + c] - base)
                }
            }
            offsets.append(offsets.last! + window)
        }
        return SequenceDataset(features: columns, values: x, offsets: offsets, labels: .targets(y, width: horizon * K))
    }

    /// The earliest step a forecast can start at: `window`, one more when inputs are differences.
    public func firstStart(_ mode: ForecastMode) -> Int { window + (mode == .difference ? 1 : 0) }

    /// The window's last value of each target column for each start (what `.relative` and
    /// `.difference` targets are changes from), `starts.count × targets` values.
    public func lastValues(starts: [Int]) -> [Float] {
        starts.flatMap { s in targetColumns.map { values[(s - 1) * columns + $0] } }
    }

    /// The absolute targets of the windows at `starts` (the layout of `dataset`'s targets).
    public func actual(starts: [Int]) -> [Float] {
        starts.flatMap { s in (0..<horizon).flatMap { h in targetColumns.map { values[(s + h) * columns + $0] } } }
    }

    /// Every start whose window and horizon lie inside `range` of steps (`range` holds both the
    /// inputs and the targets; starts advance by `stride`).
    public func starts(in range: Range<Int>, stride: Int = 1, mode: ForecastMode = .absolute) -> [Int] {
        let first = range.lowerBound + firstStart(mode)
        guard range.upperBound - horizon >= first else { return [] }
        return Array(Swift.stride(from: first, through: range.upperBound - horizon, by: stride))
    }

    /// The naive forecasts of the windows at `starts`, in the layout of `dataset(starts:)`'s targets
    /// (absolute values): persistence repeats the window's last value; seasonal naive (with
    /// `season` m) takes the value m steps before each forecast step, reaching back a whole
    /// season when the horizon is longer than one (`y[s + h − m·⌈(h + 1)/m⌉]`, Hyndman's
    /// seasonal naive).
    public func naiveForecasts(starts: [Int], season: Int? = nil) -> [Float] {
        var out: [Float] = []
        for s in starts {
            for h in 0..<horizon {
                for c in targetColumns {
                    let from: Int
                    if let m = season, m > 0 {
                        from = s + h - m * ((h + m) / m)
                    } else {
                        from = s - 1
                    }
                    out.append(from >= 0 ? values[from * columns + c] : .nan)
                }
            }
        }
        return out
    }
}

/// The error measures forecasters report, each over all targets and horizon steps.
public struct ForecastErrors: Codable, Equatable, Sendable {
    public var meanAbsoluteError: Double
    public var rootMeanSquaredError: Double
    /// Symmetric MAPE in percent: `100 · mean(2|ŷ − y| / (|ŷ| + |y|))`, a term of 0 where both are 0
    /// (the M4 competition's definition).
    public var symmetricMAPE: Double
    /// MASE: the MAE divided by the in-sample MAE of the (seasonal) naive one-step forecast on the
    /// training span (Hyndman & Koehler 2006); nil when that scale is 0 or unknown.
    public var meanAbsoluteScaledError: Double?

    /// Errors of `predicted` against `actual` (the same layout), skipping pairs with a NaN;
    /// `scale` is MASE's denominator.
    public init(predicted: [Float], actual: [Float], scale: Double?) {
        precondition(predicted.count == actual.count, "predictions and actual values differ in count")
        var absolute = 0.0, squared = 0.0, symmetric = 0.0, n = 0.0
        for (p, a) in zip(predicted, actual) where !p.isNaN && !a.isNaN {
            let e = Double(p) - Double(a), denominator = abs(Double(p)) + abs(Double(a))
            absolute += abs(e)
            squared += e * e
            symmetric += denominator > 0 ? 2 * abs(e) / denominator : 0
            n += 1
        }
        let m = max(n, 1)
        meanAbsoluteError = absolute / m
        rootMeanSquaredError = (squared / m).squareRoot()
        symmetricMAPE = 100 * symmetric / m
        meanAbsoluteScaledError = scale.flatMap { $0 > 0 ? absolute / m / $0 : nil }
    }

    /// MASE's scale: the mean absolute difference `|y_t − y_{t−m}|` over `values` (one column of a
    /// training span; m = 1 without a season), NaN pairs skipped.
    public static func naiveScale(_ values: [Float], season: Int?) -> Double? {
        let m = max(season ?? 1, 1)
        guard values.count > m else { return nil }
        var total = 0.0, n = 0.0
        for t in m..<values.count where !values[t].isNaN && !values[t - m].isNaN {
            total += abs(Double(values[t]) - Double(values[t - m]))
            n += 1
        }
        return n > 0 ? total / n : nil
    }
}
