// Scalar special functions: the reference the CPU backend runs and the OpenCL kernels mirror line by line
// (Kernels/SpecialFunctions.swift). Written here rather than taken from a libm or from OpenCL builtins:
// OpenCL's conformance tests put no accuracy bound on `lgamma`, and there is no digamma in either.
//
// Accuracy in float32, measured against mpmath in the test suite, for x in [1e-6, 1e6]: relative error
// below 2e-6 where |f(x)| >= 1, absolute error below 2e-6 where |f(x)| < 1.

import RealModule

public enum SpecialFunctions {
    /// `log Γ(x)` for `x > 0`; `+inf` at 0 and at `+inf`, NaN for `x < 0` and for NaN.
    ///
    /// Arguments below 1.5 are shifted up with `lgamma(x) = lgamma(x + 1) - log x`, arguments in [2.5, 8) down with
    /// `lgamma(x) = lgamma(x - 1) + log(x - 1)` (one log of the accumulated product), so the polynomial only
    /// sees [1.5, 2.5): both roots (1 and 2) are reached without cancellation against a large term.
    /// From 8 up, Stirling's series with three correction terms (truncation error below 3e-10).
    @inlinable
    public static func logGamma<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
        if x.isNaN { return x }
        if x < 0 { return .nan }
        if x == 0 || x == .infinity { return .infinity }
        if x >= 8 {
            let z = 1 / (x * x)
            let series = (1 / x) * (T(1.0 / 12) - z * (T(1.0 / 360) - z * T(1.0 / 1260)))
            return (x - T(0.5)) * T.log(x) - x + T(0.918_938_533_204_672_7) + series
        }
        var x = x
        var result: T = 0
        while x < T(1.5) {
            result -= T.log(x)
            x += 1
        }
        var product: T = 1
        while x >= T(2.5) {
            x -= 1
            product *= x
        }
        if product != 1 { result += T.log(product) }
        // lgamma(2 + t) = t * P(t) on [-1/2, 1/2]: a degree-8 Chebyshev fit made with mpmath (approximation error
        // 5e-10, far below float32 rounding); P(0) = digamma(2) = 1 - γ. Same coefficients as LK_LGAMMA_P.
        let t = x - 2
        var p = T(-2.538618445e-04)
        p = p * t + T(5.703469216e-04)
        p = p * t + T(-1.185837699e-03)
        p = p * t + T(2.878826910e-03)
        p = p * t + T(-7.386177637e-03)
        p = p * t + T(2.058163064e-02)
        p = p * t + T(-6.735228130e-02)
        p = p * t + T(3.224670179e-01)
        p = p * t + T(4.227843350e-01)
        return result + t * p
    }

    /// The recurrence threshold for the asymptotic series of the polygamma functions: 6 keeps float32 exact
    /// to rounding with the terms used; double needs more room.
    @inlinable
    static func asymptoticThreshold<T: BinaryFloatingPoint>(_: T.Type) -> T {
        T.significandBitCount > 30 ? 14 : 6
    }

    /// `ψ(x) = d/dx log Γ(x)` for `x > 0`; `-inf` at 0, `+inf` at `+inf`, NaN for `x < 0`.
    ///
    /// `ψ(x) = ψ(x + 1) - 1/x` up to the threshold, then the asymptotic series
    /// `log x - 1/(2x) - Σ B_2n / (2n x^2n)`.
    @inlinable
    public static func digamma<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
        if x.isNaN { return x }
        if x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return .infinity }
        var x = x
        var result: T = 0
        let threshold = asymptoticThreshold(T.self)
        while x < threshold {
            result -= 1 / x
            x += 1
        }
        let z = 1 / (x * x)
        // The coefficients are typed one by one: as one nested literal expression this line alone took the type
        // checker 7 s of every build (Double division, then rounded to T, as before).
        let c1 = T(1.0 / 12 as Double), c2 = T(1.0 / 120 as Double), c3 = T(1.0 / 252 as Double)
        let c4 = T(1.0 / 240 as Double), c5 = T(1.0 / 132 as Double), c6 = T(691.0 / 32760 as Double)
        let tail = z * (c1 - z * (c2 - z * (c3 - z * (c4 - z * (c5 - z * c6)))))
        return result + T.log(x) - T(0.5) / x - tail
    }

    /// `ψ₁(x) = d/dx ψ(x)` for `x > 0`; `+inf` at 0, 0 at `+inf`, NaN for `x < 0`.
    ///
    /// `ψ₁(x) = ψ₁(x + 1) + 1/x²` up to the threshold (all terms positive: no cancellation), then
    /// `1/x + 1/(2x²) + Σ B_2n / x^(2n+1)`.
    @inlinable
    public static func trigamma<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
        if x.isNaN { return x }
        if x < 0 { return .nan }
        if x == 0 { return .infinity }
        if x == .infinity { return 0 }
        var x = x
        var result: T = 0
        let threshold = asymptoticThreshold(T.self)
        while x < threshold {
            result += 1 / (x * x)
            x += 1
        }
        let r = 1 / x
        let z = r * r
        let c1 = T(1.0 / 6 as Double), c2 = T(1.0 / 30 as Double), c3 = T(1.0 / 42 as Double)  // typed: see digamma
        let c4 = T(1.0 / 30 as Double), c5 = T(5.0 / 66 as Double), c6 = T(691.0 / 2730 as Double)
        let tail = r * z * (c1 - z * (c2 - z * (c3 - z * (c4 - z * (c5 - z * c6)))))
        return result + r + T(0.5) * z + tail
    }

    /// `ψ₂(x) = d/dx ψ₁(x)` for `x > 0` (the backward form of trigamma); `-inf` at 0, 0 at `+inf`, NaN for `x < 0`.
    @inlinable
    public static func tetragamma<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
        if x.isNaN { return x }
        if x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return 0 }
        var x = x
        var result: T = 0
        let threshold = asymptoticThreshold(T.self)
        while x < threshold {
            result -= 2 / (x * x * x)
            x += 1
        }
        let r = 1 / x
        let z = r * r
        // -1/x² - 1/x³ - 1/(2x⁴) + 1/(6x⁶) - 1/(6x⁸) + 3/(10x¹⁰) - 5/(6x¹²) + 691/(210x¹⁴)
        let c1 = T(0.5 as Double), c2 = T(1.0 / 6 as Double), c3 = T(1.0 / 6 as Double)  // typed: see digamma
        let c4 = T(3.0 / 10 as Double), c5 = T(5.0 / 6 as Double), c6 = T(691.0 / 210 as Double)
        let tail = z * z * (c1 - z * (c2 - z * (c3 - z * (c4 - z * (c5 - z * c6)))))
        return result - z - z * r - tail
    }

    /// `log(1 + e^x)` without overflow; exact to rounding up to the accuracy of `exp` and `log1p`.
    @inlinable
    public static func softplus<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
        if x > 0 { return x + T.log(onePlus: T.exp(-x)) }
        return T.log(onePlus: T.exp(x))  // also the NaN path
    }

    /// `log σ(x) = -softplus(-x)`.
    @inlinable
    public static func logSigmoid<T: Real & BinaryFloatingPoint>(_ x: T) -> T { -softplus(-x) }

    /// `σ(x) = 1 / (1 + e^-x)`, evaluated on the side where the exponential cannot overflow.
    @inlinable
    public static func sigmoid<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
        if x >= 0 { return 1 / (1 + T.exp(-x)) }
        let e = T.exp(x)
        return e / (1 + e)  // also the NaN path
    }
}
