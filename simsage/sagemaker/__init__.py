"""The ``sagemaker`` API: one service object gathering the operations of each concept
(training, processing and hyperparameter tuning jobs, models, endpoint configurations,
endpoints, transform jobs, the model registry, tags)."""

from __future__ import annotations

from simsage.errors import ValidationException
from simsage.hosting.endpoint_configs import EndpointConfigsAPI
from simsage.hosting.endpoints import EndpointsAPI, stop_endpoint_processes
from simsage.hosting.models import ModelsAPI
from simsage.pipelines.api import PipelinesAPI
from simsage.pipelines.store import stop_pipeline_processes
from simsage.processing.api import ProcessingAPI
from simsage.processing.jobs import stop_processing_processes
from simsage.registry.groups import ModelPackageGroupsAPI
from simsage.registry.packages import ModelPackagesAPI
from simsage.sagemaker.tags import TagsAPI
from simsage.services import on_stop_everything
from simsage.training.api import TrainingAPI
from simsage.training.supervise import stop_training_processes
from simsage.transform.api import TransformAPI
from simsage.transform.jobs import stop_transform_processes
from simsage.transport.constraints import ValidationErrors
from simsage.tuning.api import TuningAPI
from simsage.tuning.jobs import stop_tuning_processes

# A pipeline execution's runner goes first, then a tuning job's: they would otherwise
# start new jobs while the hooks below end the running ones.
on_stop_everything(stop_pipeline_processes)
on_stop_everything(stop_tuning_processes)
on_stop_everything(stop_training_processes)
on_stop_everything(stop_transform_processes)
on_stop_everything(stop_processing_processes)
on_stop_everything(stop_endpoint_processes)


class SageMakerService:
    """Answers SageMaker operations for one home. Inputs are checked against the
    model's constraints (lengths, patterns, enums) as the service does."""

    CHECK_INPUT = ValidationErrors(ValidationException)

    def __init__(self, home) -> None:
        self.tags = TagsAPI(home)
        for api in (
            self.tags,
            TrainingAPI(home, self.tags),
            ProcessingAPI(home, self.tags),
            TuningAPI(home, self.tags),
            ModelsAPI(home, self.tags),
            EndpointConfigsAPI(home, self.tags),
            TransformAPI(home, self.tags),
            EndpointsAPI(home, self.tags),
            ModelPackageGroupsAPI(home, self.tags),
            ModelPackagesAPI(home, self.tags),
            PipelinesAPI(home, self.tags),
        ):
            for operation in api.OPERATIONS:
                setattr(self, operation, getattr(api, operation))
