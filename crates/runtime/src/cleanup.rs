//! Engine calls garbage collection needs: the hub's networks and its dangling images.

use std::collections::HashMap;

use bollard::query_parameters::{ListImagesOptionsBuilder, ListNetworksOptionsBuilder};
use cchub_policy::{LABEL_INSTANCE, LABEL_MANAGED};

use crate::{DockerRuntime, RuntimeError};

impl DockerRuntime {
    /// Names of the networks labelled for hub `instance`.
    pub async fn list_managed_networks(&self, instance: &str) -> Result<Vec<String>, RuntimeError> {
        let labels = vec![format!("{LABEL_MANAGED}=true"), format!("{LABEL_INSTANCE}={instance}")];
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListNetworksOptionsBuilder::default().filters(&filters).build();
        let networks = self.client().list_networks(Some(options)).await.map_err(|e| RuntimeError::engine("list networks", instance, e))?;
        Ok(networks.into_iter().filter_map(|n| n.name).collect())
    }

    /// Ids of untagged images left behind by rebuilds of the workspace image.
    pub async fn dangling_runtime_images(&self) -> Result<Vec<String>, RuntimeError> {
        let filters = HashMap::from([
            ("dangling".to_string(), vec!["true".to_string()]),
            ("label".to_string(), vec![crate::image::LABEL_INPUTS.to_string()]),
        ]);
        let options = ListImagesOptionsBuilder::default().filters(&filters).build();
        let images = self.client().list_images(Some(options)).await.map_err(|e| RuntimeError::engine("list images", "dangling", e))?;
        Ok(images.into_iter().map(|image| image.id).collect())
    }

    /// Removes image `id`; an image still in use stays and is reported as an error.
    pub async fn remove_image(&self, id: &str) -> Result<(), RuntimeError> {
        self.client()
            .remove_image(id, None::<bollard::query_parameters::RemoveImageOptions>, None)
            .await
            .map(|_| ())
            .map_err(|e| RuntimeError::engine("remove image", id, e))
    }
}
