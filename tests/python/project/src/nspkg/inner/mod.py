VALUE = "namespace module"
