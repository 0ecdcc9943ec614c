"""The SageMaker model registry: model package groups and the model packages in them
(CreateModelPackageGroup … DeleteModelPackage). The rows live below this concept, in
:mod:`simsage.store.model_packages`, because hosting reads them too (CreateModel with a
container's ``ModelPackageName``)."""
