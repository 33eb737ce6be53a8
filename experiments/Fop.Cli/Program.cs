using System.Reflection;
var asm = typeof(TorchSharp.torch).Assembly;
foreach (var name in args) {
 var t = asm.GetTypes().FirstOrDefault(t => t.FullName == name);
 if (t == null) { Console.WriteLine("no " + name); continue; }
 Console.WriteLine("== " + t.FullName + " : " + t.BaseType);
 foreach (var p in t.GetProperties(BindingFlags.Public|BindingFlags.Instance)) Console.WriteLine($"  P {p.PropertyType.Name} {p.Name}");
 foreach (var m in t.GetMethods(BindingFlags.Public|BindingFlags.Instance|BindingFlags.DeclaredOnly).Where(m=>!m.IsSpecialName)) Console.WriteLine($"  M {m.Name}({string.Join(", ", m.GetParameters().Select(p=>p.ParameterType.Name+" "+p.Name))})");
}
