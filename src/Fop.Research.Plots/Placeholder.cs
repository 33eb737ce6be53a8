namespace Fop.Research.Plots; class Y{}
