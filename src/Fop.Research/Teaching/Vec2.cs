namespace Fop.Research.Teaching;

/// <summary>A point or direction in the plane of two weights.</summary>
public readonly record struct Vec2(double X, double Y)
{
    /// <summary>Sum.</summary>
    public static Vec2 operator +(Vec2 a, Vec2 b) => new(a.X + b.X, a.Y + b.Y);
    /// <summary>Difference.</summary>
    public static Vec2 operator -(Vec2 a, Vec2 b) => new(a.X - b.X, a.Y - b.Y);
    /// <summary>Scaling.</summary>
    public static Vec2 operator *(double s, Vec2 a) => new(s * a.X, s * a.Y);
    /// <summary>Euclidean inner product.</summary>
    public double Dot(Vec2 b) => X * b.X + Y * b.Y;
    /// <summary>Euclidean norm.</summary>
    public double Norm => Math.Sqrt(Dot(this));
    /// <summary>The two entries.</summary>
    public double[] ToArray() => [X, Y];
}

/// <summary>A 2x2 matrix [[A, B], [C, D]] (Hessians, Fishers and their Kronecker approximations of two weights).</summary>
public readonly record struct Mat2(double A, double B, double C, double D)
{
    /// <summary>The identity.</summary>
    public static Mat2 Identity => new(1, 0, 0, 1);
    /// <summary>Sum.</summary>
    public static Mat2 operator +(Mat2 m, Mat2 n) => new(m.A + n.A, m.B + n.B, m.C + n.C, m.D + n.D);
    /// <summary>Scaling.</summary>
    public static Mat2 operator *(double s, Mat2 m) => new(s * m.A, s * m.B, s * m.C, s * m.D);
    /// <summary>M v.</summary>
    public Vec2 Times(Vec2 v) => new(A * v.X + B * v.Y, C * v.X + D * v.Y);
    /// <summary>The outer product u vᵀ.</summary>
    public static Mat2 Outer(Vec2 u, Vec2 v) => new(u.X * v.X, u.X * v.Y, u.Y * v.X, u.Y * v.Y);
    /// <summary>Determinant.</summary>
    public double Determinant => A * D - B * C;
    /// <summary>M + lambda I.</summary>
    public Mat2 Damped(double lambda) => new(A + lambda, B, C, D + lambda);
    /// <summary>M⁻¹ v (Cramer's rule); throws when M is singular.</summary>
    public Vec2 Solve(Vec2 v)
    {
        double det = Determinant;
        if (det == 0 || !double.IsFinite(det)) throw new InvalidOperationException($"singular 2x2 matrix [[{A}, {B}], [{C}, {D}]]: add damping.");
        return new((D * v.X - B * v.Y) / det, (A * v.Y - C * v.X) / det);
    }
    /// <summary>Eigenvalues (descending) and unit eigenvectors of the symmetric part.</summary>
    public ((double Value, Vec2 Vector) First, (double Value, Vec2 Vector) Second) SymmetricEigen()
    {
        double b = (B + C) / 2, mean = (A + D) / 2, r = Math.Sqrt((A - D) * (A - D) / 4 + b * b);
        double angle = 0.5 * Math.Atan2(2 * b, A - D);
        var v1 = new Vec2(Math.Cos(angle), Math.Sin(angle));
        return ((mean + r, v1), (mean - r, new Vec2(-v1.Y, v1.X)));
    }
}
